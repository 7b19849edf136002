package token

import (
	"context"
	"net/http"
	"strings"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// RevocationChecker says whether a verified token has been revoked since it
// was issued (its session ended, its user was banned...).
type RevocationChecker interface {
	Revoked(ctx context.Context, c *Claims) (bool, error)
}

// CodeMissingToken is the errs code when a request carries no bearer token.
const CodeMissingToken = "missing_token"

// CodeRevocationUnavailable is the errs code when the RevocationChecker
// fails.
const CodeRevocationUnavailable = "revocation_unavailable"

// claimsKey is the context key of the verified claims.
type claimsKey struct{}

// NewContext returns a copy of ctx carrying c.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims Middleware verified for this request.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// Middleware guards a handler with a bearer access token (RFC 6750 §2.1:
// "Authorization: Bearer <token>", exactly one such header). The token must
// pass v and, when revoked is not nil, must not be revoked; the claims are
// then in the request context (ClaimsFrom). Otherwise onError is called with
// an *errs.Error and the handler is not:
//
//   - no token: KindUnauthenticated, CodeMissingToken;
//   - a token that fails v or is revoked: KindUnauthenticated,
//     CodeInvalidToken;
//   - revoked fails: KindUnavailable, CodeRevocationUnavailable. This fails
//     closed, and with 503 rather than 401 so that clients retry instead of
//     throwing their tokens away and stampeding the login service.
//
// A nil onError writes 401 with a WWW-Authenticate challenge, or 503.
func Middleware(v *Verifier, revoked RevocationChecker, onError func(w http.ResponseWriter, r *http.Request, err error)) func(http.Handler) http.Handler {
	if onError == nil {
		onError = writeError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, err := bearerToken(r)
			if err != nil {
				onError(w, r, err)
				return
			}
			ctx := r.Context()
			c, err := v.Verify(ctx, raw)
			if err != nil {
				onError(w, r, err)
				return
			}
			if revoked != nil {
				gone, err := revoked.Revoked(ctx, c)
				if err != nil {
					onError(w, r, errs.Wrap(errs.KindUnavailable, CodeRevocationUnavailable, "cannot check token revocation", err))
					return
				}
				if gone {
					onError(w, r, invalid("token revoked"))
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(NewContext(ctx, c)))
		})
	}
}

// bearerToken reads the token from the Authorization header.
func bearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", errs.E(errs.KindUnauthenticated, CodeMissingToken, "token: no Authorization header")
	case 1:
	default:
		return "", invalid("more than one Authorization header")
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errs.E(errs.KindUnauthenticated, CodeMissingToken, "token: Authorization is not Bearer")
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", invalid("malformed Bearer credentials")
	}
	return tok, nil
}

// writeError is Middleware's default error response.
func writeError(w http.ResponseWriter, _ *http.Request, err error) {
	e := errs.As(err)
	switch {
	case e != nil && e.Kind == errs.KindUnavailable:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	case e != nil && e.Code == CodeMissingToken:
		w.Header().Set("WWW-Authenticate", `Bearer`)
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}
