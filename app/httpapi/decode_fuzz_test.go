package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// FuzzRequestDecoders feeds arbitrary bodies to every request type the API
// decodes, and to the OAuth form reader: none may panic, and anything that
// is not a clean decode must be a contract error (400 or 413).
func FuzzRequestDecoders(f *testing.F) {
	f.Add(uint8(0), []byte(`{"email":"a@b.co","password":"pw"}`))
	f.Add(uint8(1), []byte(`{"email":"a@b.co","password":"pw","device_token":"x","challenge_solution":{"nonce":1}}`))
	f.Add(uint8(2), []byte(`{"current_password":"a","new_password":"b"}`))
	f.Add(uint8(3), []byte(`{"email":"a@b.co"}`))
	f.Add(uint8(4), []byte(`{"token":"ghp_x","new_password":"b"}`))
	f.Add(uint8(5), []byte(`grant_type=refresh_token&refresh_token=ghr_us-east1_x`))
	f.Add(uint8(5), []byte(`grant_type=a&grant_type=b`))
	f.Add(uint8(6), []byte(`token=%zz`))
	targets := []func() any{
		func() any { return &signUpRequest{} },
		func() any { return &loginRequest{} },
		func() any { return &changePasswordRequest{} },
		func() any { return &resetRequest{} },
		func() any { return &resetConfirmRequest{} },
	}
	s := New(Config{Region: "r"}, Deps{})
	e := s.Echo()
	for i, mk := range targets {
		e.POST("/json/"+string(rune('0'+i)), func(c echo.Context) error {
			if err := decodeJSON(c, mk()); err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		})
	}
	e.POST("/form", func(c echo.Context) error {
		if _, err := readForm(c, "grant_type", "refresh_token", "client_id", "scope", "token", "token_type_hint"); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path, ct := "/form", "application/x-www-form-urlencoded"
		if int(which)%6 < len(targets) {
			path, ct = "/json/"+string(rune('0'+int(which)%6)), "application/json"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case 204, 400, 413:
		default:
			t.Fatalf("%s %q: status %d %s", path, body, rec.Code, rec.Body.String())
		}
	})
}
