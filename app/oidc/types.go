// Package oidc is Gatehouse's OpenID Connect provider: registered clients
// and their authentication, the authorization request, authorization
// codes (PKCE, single use, replay revokes), ID tokens, userinfo,
// client_credentials and remembered consent. It decides; the HTTP layers
// (app/httpapi for the token endpoint, app/web for the pages) parse and
// answer, app/store keeps the rows, and app/auth owns users and sessions,
// so every login rule applies once.
package oidc

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// Client is a registered OAuth client.
type Client struct {
	ID           string
	Name         string
	Confidential bool
	// FirstParty clients skip the consent page and may get a refresh
	// token without offline_access.
	FirstParty bool
	// SecretHash is the SHA-256 of the current secret (confidential only);
	// PreviousSecretHash stays valid until PreviousSecretExpiresAt.
	SecretHash              []byte
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt *time.Time
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	CreatedAt, UpdatedAt    time.Time
}

// Code is the stored side of an authorization code: only its hash, and
// everything it is bound to.
type Code struct {
	Hash          []byte
	ClientID      string
	RedirectURI   string
	UserID        uuid.UUID
	HomeRegion    string
	Scope         string
	Nonce         string
	CodeChallenge string
	AuthTime      time.Time
	AMR           []string
	ACR           string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        *time.Time
	// SessionID is the session the code was redeemed for (uuid.Nil before).
	SessionID uuid.UUID
}

// Grant is the consent a user gave a client.
type Grant struct {
	UserID     uuid.UUID
	ClientID   string
	HomeRegion string
	Scope      string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Store keeps clients, codes and grants (app/store). Missing rows are
// KindNotFound; a duplicate client id is KindConflict.
type Store interface {
	CreateClient(ctx context.Context, c Client) error
	Client(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// SetClientSecret replaces the secret hashes of a client.
	SetClientSecret(ctx context.Context, id string, secretHash, previousHash []byte, previousExpires *time.Time, now time.Time) error
	DeleteClient(ctx context.Context, id string) error

	CreateCode(ctx context.Context, c Code) error
	// RedeemCode marks an unused code used by sessionID in one statement
	// and returns it with first true. A code used before comes back with
	// first false and the session it was redeemed for; an unknown code is
	// KindNotFound.
	RedeemCode(ctx context.Context, hash []byte, sessionID uuid.UUID, now time.Time) (c Code, first bool, err error)
	// CodeReplayed reports whether a later RedeemCode found the code used.
	CodeReplayed(ctx context.Context, hash []byte) (bool, error)

	Grant(ctx context.Context, userID uuid.UUID, clientID string) (Grant, error)
	SaveGrant(ctx context.Context, g Grant) error
	ListGrants(ctx context.Context, userID uuid.UUID) ([]Grant, error)
	DeleteGrant(ctx context.Context, userID uuid.UUID, clientID string) error
}

// Accounts is what the provider needs of the account service (*auth.Service).
type Accounts interface {
	StartClientSession(ctx context.Context, cs auth.ClientSession) (auth.TokenResponse, auth.User, error)
	Authenticate(ctx context.Context, bearer string) (auth.Principal, error)
	EndSessionOf(ctx context.Context, userID, sessionID uuid.UUID, reason string) error
	EndClientSessions(ctx context.Context, userID uuid.UUID, clientID string) error
	UserByID(ctx context.Context, id uuid.UUID) (auth.User, error)
	ClientToken(clientID string) (string, int, error)
}

// IDTokenSigner signs ID tokens (*token.Issuer).
type IDTokenSigner interface {
	SignIDToken(c token.IDToken) (string, error)
}
