package token

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// revocations is a RevocationChecker with a fixed answer.
type revocations struct {
	revoked bool
	err     error
	seen    *Claims
}

func (r *revocations) Revoked(_ context.Context, c *Claims) (bool, error) {
	r.seen = c
	return r.revoked, r.err
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	tok, err := f.issuer.Issue(testClaims())
	if err != nil {
		t.Fatal(err)
	}
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom(r.Context())
		if !ok {
			t.Error("no claims in context")
			return
		}
		w.Write([]byte(c.Subject))
	})

	cases := []struct {
		name       string
		headers    []string
		checker    *revocations
		wantStatus int
		wantKind   errs.Kind
		wantCode   string
	}{
		{"valid", []string{"Bearer " + tok}, nil, 200, 0, ""},
		{"valid, lower-case scheme, checked", []string{"bearer " + tok}, &revocations{}, 200, 0, ""},
		{"no header", nil, nil, 401, errs.KindUnauthenticated, CodeMissingToken},
		{"basic auth", []string{"Basic dTpw"}, nil, 401, errs.KindUnauthenticated, CodeMissingToken},
		{"empty bearer", []string{"Bearer "}, nil, 401, errs.KindUnauthenticated, CodeInvalidToken},
		{"two tokens", []string{"Bearer " + tok + " " + tok}, nil, 401, errs.KindUnauthenticated, CodeInvalidToken},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, nil, 401, errs.KindUnauthenticated, CodeInvalidToken},
		{"bad token", []string{"Bearer " + tok + "x"}, nil, 401, errs.KindUnauthenticated, CodeInvalidToken},
		{"revoked", []string{"Bearer " + tok}, &revocations{revoked: true}, 401, errs.KindUnauthenticated, CodeInvalidToken},
		{"checker down fails closed", []string{"Bearer " + tok}, &revocations{err: errors.New("redis down")}, 503, errs.KindUnavailable, CodeRevocationUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, custom := range []bool{false, true} {
				var gotErr error
				var onError func(http.ResponseWriter, *http.Request, error)
				if custom {
					onError = func(w http.ResponseWriter, r *http.Request, err error) {
						gotErr = err
						w.WriteHeader(599)
					}
				}
				var checker RevocationChecker
				if tc.checker != nil {
					checker = tc.checker
				}
				h := Middleware(f.verifier, checker, onError)(protected)
				req := httptest.NewRequest("GET", "/v1/me", nil)
				for _, v := range tc.headers {
					req.Header.Add("Authorization", v)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)

				if tc.wantStatus == 200 {
					if rec.Code != 200 || rec.Body.String() != "user-123" {
						t.Fatalf("status %d body %q", rec.Code, rec.Body)
					}
					if tc.checker != nil && (tc.checker.seen == nil || tc.checker.seen.SessionID != "sess-9") {
						t.Fatal("checker not given the claims")
					}
					continue
				}
				if !custom {
					if rec.Code != tc.wantStatus {
						t.Fatalf("status %d, want %d", rec.Code, tc.wantStatus)
					}
					if tc.wantStatus == 401 && rec.Header().Get("WWW-Authenticate") == "" {
						t.Fatal("no WWW-Authenticate challenge")
					}
					continue
				}
				e := errs.As(gotErr)
				if rec.Code != 599 || e == nil || e.Kind != tc.wantKind || e.Code != tc.wantCode {
					t.Fatalf("status %d err %v; want kind %v code %s", rec.Code, gotErr, tc.wantKind, tc.wantCode)
				}
			}
		})
	}
}

func TestClaimsFromEmptyContext(t *testing.T) {
	if _, ok := ClaimsFrom(context.Background()); ok {
		t.Fatal("claims in an empty context")
	}
	if _, ok := ClaimsFrom(NewContext(context.Background(), nil)); ok {
		t.Fatal("nil claims reported present")
	}
}
