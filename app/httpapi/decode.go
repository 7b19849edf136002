package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// decodeJSON reads exactly one JSON object into v. Unknown fields, trailing
// data, a wrong type or a missing body are 400 invalid_request; a body over
// the limit is 413.
func decodeJSON(c echo.Context, v any) error {
	req := c.Request()
	if ct := req.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errs.E(errs.KindInvalid, "invalid_request", "the body must be application/json")
		}
	}
	dec := json.NewDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		return errs.E(errs.KindInvalid, "invalid_request", "the body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return errs.E(errs.KindTooLarge, "request_too_large", "the request body is over 64 KiB")
	case errors.Is(err, io.EOF):
		return errs.E(errs.KindInvalid, "invalid_request", "the request body is empty")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.KindInvalid, "invalid_request", "the body is not valid JSON")
	case errors.As(err, &typ):
		return errs.E(errs.KindInvalid, "invalid_request", "field "+typ.Field+" has the wrong type")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errs.E(errs.KindInvalid, "invalid_request", "unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errs.E(errs.KindInvalid, "invalid_request", "the body could not be read")
}
