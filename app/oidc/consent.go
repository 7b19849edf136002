package oidc

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// hasConsent reports whether the user granted the client every scope the
// request asks for.
func (p *Provider) hasConsent(ctx context.Context, userID uuid.UUID, req *AuthRequest) (bool, error) {
	g, err := p.store.Grant(ctx, userID, req.Client.ID)
	if errs.Is(err, errs.KindNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	granted := strings.Fields(g.Scope)
	for _, s := range req.Scopes {
		if !slices.Contains(granted, s) {
			return false, nil
		}
	}
	return true, nil
}

// Consent records that the user granted the request's scopes (added to
// what they granted before) and issues the code.
func (p *Provider) Consent(ctx context.Context, req *AuthRequest, authn *Authentication) (string, error) {
	now := p.now()
	scopes := slices.Clone(req.Scopes)
	if g, err := p.store.Grant(ctx, authn.UserID, req.Client.ID); err == nil {
		for _, s := range strings.Fields(g.Scope) {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	} else if !errs.Is(err, errs.KindNotFound) {
		return "", err
	}
	g := Grant{UserID: authn.UserID, ClientID: req.Client.ID, HomeRegion: authn.HomeRegion, Scope: strings.Join(scopes, " "),
		CreatedAt: now, UpdatedAt: now}
	if err := p.store.SaveGrant(ctx, g); err != nil {
		return "", err
	}
	return p.IssueCode(ctx, req, authn)
}

// GrantView is a grant as GET /v1/grants lists it.
type GrantView struct {
	ClientID   string   `json:"client_id"`
	ClientName string   `json:"client_name"`
	Scopes     []string `json:"scopes"`
	CreatedAt  string   `json:"created_at"`
	UpdatedAt  string   `json:"updated_at"`
}

// Grants lists the consents a user gave.
func (p *Provider) Grants(ctx context.Context, userID uuid.UUID) ([]GrantView, error) {
	list, err := p.store.ListGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]GrantView, 0, len(list))
	for _, g := range list {
		name := g.ClientID
		if c, err := p.store.Client(ctx, g.ClientID); err == nil {
			name = c.Name
		}
		out = append(out, GrantView{ClientID: g.ClientID, ClientName: name, Scopes: strings.Fields(g.Scope),
			CreatedAt: g.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), UpdatedAt: g.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z")})
	}
	return out, nil
}

// RevokeGrant withdraws a consent and ends every session the user has
// with that client (and so its refresh tokens).
func (p *Provider) RevokeGrant(ctx context.Context, userID uuid.UUID, clientID string) error {
	if err := p.store.DeleteGrant(ctx, userID, clientID); err != nil {
		return err
	}
	return p.accounts.EndClientSessions(ctx, userID, clientID)
}

// Logout is a validated RP-initiated logout request.
type Logout struct {
	// RedirectURI is where to send the browser afterwards ("" shows the
	// signed-out page).
	RedirectURI string
	// HintUserID and HintSessionID come from a verified id_token_hint.
	HintUserID    uuid.UUID
	HintSessionID uuid.UUID
}

// ParseLogout validates RP-Initiated Logout 1.0 §2: post_logout_redirect_uri
// must be registered for the client named by client_id or the hint's aud;
// a bad hint or an unregistered URI is a *PageError (never a redirect).
func (p *Provider) ParseLogout(ctx context.Context, idTokenHint, clientID, postLogout, state string) (Logout, error) {
	var out Logout
	if idTokenHint != "" {
		idt, err := token.VerifyIDTokenHint(ctx, p.hintKeys, p.issuer, idTokenHint)
		if err != nil {
			return out, &PageError{"invalid_request", "the id_token_hint is not a token this server issued"}
		}
		if clientID != "" && clientID != idt.Audience {
			return out, &PageError{"invalid_request", "client_id does not match the id_token_hint"}
		}
		clientID = idt.Audience
		out.HintUserID, _ = uuid.Parse(idt.Subject)
		out.HintSessionID, _ = uuid.Parse(idt.SessionID)
	}
	if postLogout == "" {
		return out, nil
	}
	if clientID == "" {
		return out, &PageError{"invalid_request", "post_logout_redirect_uri needs client_id or id_token_hint"}
	}
	c, err := p.store.Client(ctx, clientID)
	if errs.Is(err, errs.KindNotFound) {
		return out, &PageError{"invalid_client", "the application that sent you here is not registered"}
	}
	if err != nil {
		return out, err
	}
	if !slices.Contains(c.PostLogoutRedirectURIs, postLogout) {
		return out, &PageError{"invalid_request", "the application asked to return to an address it has not registered"}
	}
	out.RedirectURI = postLogout
	if state != "" {
		out.RedirectURI = appendQuery(postLogout, map[string][]string{"state": {state}})
	}
	return out, nil
}

// EndHintedSession ends the relying party's session named by a verified
// hint (the browser session is the caller's to end).
func (p *Provider) EndHintedSession(ctx context.Context, l Logout) error {
	if l.HintSessionID == uuid.Nil || l.HintUserID == uuid.Nil {
		return nil
	}
	return p.accounts.EndSessionOf(ctx, l.HintUserID, l.HintSessionID, "rp_logout")
}
