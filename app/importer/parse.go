package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/legacyhash"
)

// Limits of the fields of an import line.
const (
	// MaxLineBytes is the longest line accepted, without its newline.
	MaxLineBytes = 64 << 10
	// MaxExternalIDBytes is the longest external_id accepted.
	MaxExternalIDBytes = 255
	// maxFutureSkew is how far in the future a created_at may lie.
	maxFutureSkew = 24 * time.Hour
)

// LineParser turns one JSON line into a Record. The zero value is not
// usable: Region and Now are required.
type LineParser struct {
	// Region homes users whose line has no home_region.
	Region string
	// Regions, when not empty, lists the only home regions accepted.
	Regions []string
	// Now is the import's start: the created_at of lines without one, and
	// the upper bound (plus a day) of the ones given.
	Now time.Time
	// NewID draws user ids; nil means uuid.New.
	NewID func() uuid.UUID
}

// lineJSON is an import line. Pointers tell absent (or null) from zero.
type lineJSON struct {
	Email         *string       `json:"email"`
	EmailVerified *bool         `json:"email_verified"`
	ExternalID    *string       `json:"external_id"`
	HomeRegion    *string       `json:"home_region"`
	CreatedAt     *string       `json:"created_at"`
	Password      *passwordJSON `json:"password"`
}

// passwordJSON is either {"hash"} or the raw digest form.
type passwordJSON struct {
	Hash         *string `json:"hash"`
	Algorithm    *string `json:"algorithm"`
	Encoding     *string `json:"encoding"`
	Salt         *string `json:"salt"`
	SaltPosition *string `json:"salt_position"`
}

// The exact keys accepted at the top level and in "password". encoding/json
// matches keys case-insensitively; checkKeys refuses anything but these.
var (
	lineKeys     = []string{"email", "email_verified", "external_id", "home_region", "created_at", "password"}
	passwordKeys = []string{"hash", "algorithm", "encoding", "salt", "salt_position"}
)

// Parse validates one line (without its newline) and builds its Record.
// The error is a reason fit for a report: it never quotes the email,
// password or hash.
func (p *LineParser) Parse(line []byte, lineNo int64) (Record, error) {
	var l lineJSON
	if err := json.Unmarshal(line, &l); err != nil {
		return Record{}, jsonReason(err)
	}
	if err := checkKeys(line); err != nil {
		return Record{}, err
	}
	if l.Email == nil {
		return Record{}, errors.New("email is required")
	}
	email, err := auth.NormaliseEmail(*l.Email)
	if err != nil {
		return Record{}, errors.New(reason(err))
	}
	u := auth.User{Email: email, HomeRegion: p.Region, Status: auth.StatusActive, CreatedAt: p.Now}
	if l.EmailVerified != nil {
		u.EmailVerified = *l.EmailVerified
	}
	if l.ExternalID != nil {
		if u.ExternalID, err = checkExternalID(*l.ExternalID); err != nil {
			return Record{}, err
		}
	}
	if l.HomeRegion != nil {
		if u.HomeRegion, err = p.checkRegion(*l.HomeRegion); err != nil {
			return Record{}, err
		}
	}
	if l.CreatedAt != nil {
		if u.CreatedAt, err = p.checkCreatedAt(*l.CreatedAt); err != nil {
			return Record{}, err
		}
	}
	u.UpdatedAt = p.Now
	rec := Record{Line: lineNo, User: u, EmailHash: auth.EmailHash(email)}
	if l.Password != nil {
		c, err := parsePassword(*l.Password)
		if err != nil {
			return Record{}, err
		}
		c.CreatedAt, c.UpdatedAt = p.Now, p.Now
		rec.Credential = &c
	}
	if p.NewID != nil {
		rec.User.ID = p.NewID()
	} else {
		rec.User.ID = uuid.New()
	}
	return rec, nil
}

// parsePassword recognises the password object and returns the legacy
// credential it becomes.
func parsePassword(pw passwordJSON) (auth.Credential, error) {
	if pw.Hash == nil {
		return auth.Credential{}, errors.New("password.hash is required")
	}
	var (
		h   *legacyhash.Hash
		err error
	)
	if pw.Algorithm == nil {
		if pw.Encoding != nil || pw.Salt != nil || pw.SaltPosition != nil {
			return auth.Credential{}, errors.New("password.encoding, salt and salt_position go with password.algorithm")
		}
		if strings.HasPrefix(*pw.Hash, "$argon2") && strings.Contains(*pw.Hash, "pv=") {
			return auth.Credential{}, errors.New("password.hash is a peppered Gatehouse hash (pv=); its pepper cannot be imported")
		}
		if strings.HasPrefix(*pw.Hash, "{") {
			// Parse takes the digest object as a string too; the contract
			// gives it as an object, so a string form is refused.
			return auth.Credential{}, errors.New("password.hash: give a raw digest as password.algorithm, hash, encoding")
		}
		h, err = legacyhash.Parse(*pw.Hash)
	} else {
		if pw.Encoding == nil {
			return auth.Credential{}, errors.New("password.encoding is required with password.algorithm")
		}
		salt, pos := deref(pw.Salt), deref(pw.SaltPosition)
		if strings.IndexByte(salt, 0) >= 0 {
			return auth.Credential{}, errors.New("password.salt must not contain NUL")
		}
		if pos != "" && salt == "" {
			return auth.Credential{}, errors.New("password.salt_position given without password.salt")
		}
		h, err = legacyhash.FromDigest(*pw.Algorithm, *pw.Hash, *pw.Encoding, salt, pos)
	}
	if err != nil {
		return auth.Credential{}, fmt.Errorf("password: %s", reason(err))
	}
	c := auth.Credential{Kind: auth.CredentialLegacy, Hash: h.String()}
	if recipe, _, ok := h.Wrapped(); ok {
		raw, err := json.Marshal(recipe)
		if err != nil {
			return auth.Credential{}, fmt.Errorf("password: recipe: %w", err)
		}
		c.Recipe = raw
	}
	return c, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkExternalID accepts 1-255 bytes of printable UTF-8.
func checkExternalID(s string) (string, error) {
	if s == "" || len(s) > MaxExternalIDBytes || !utf8.ValidString(s) {
		return "", fmt.Errorf("external_id must be 1-%d bytes of UTF-8", MaxExternalIDBytes)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", errors.New("external_id contains a control character")
		}
	}
	return s, nil
}

// checkRegion accepts a region name like us-east1, from Regions if set.
func (p *LineParser) checkRegion(s string) (string, error) {
	ok := s != "" && len(s) <= 63 && s[0] >= 'a' && s[0] <= 'z'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return "", errors.New("home_region must look like us-east1")
	}
	if len(p.Regions) > 0 && !slices.Contains(p.Regions, s) {
		return "", errors.New("home_region is not a region of this deployment")
	}
	return s, nil
}

// checkCreatedAt accepts an RFC 3339 time from 1900 to a day from now.
func (p *LineParser) checkCreatedAt(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("created_at must be an RFC 3339 time")
	}
	if t.Year() < 1900 || t.After(p.Now.Add(maxFutureSkew)) {
		return time.Time{}, errors.New("created_at is before 1900 or in the future")
	}
	return t.UTC(), nil
}

// reason is the client-facing message of an errs.Error, else the error text.
func reason(err error) string {
	if e := errs.As(err); e != nil && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

// jsonReason describes a decoding error without quoting the input.
func jsonReason(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return errors.New("line must be a JSON object")
		}
		return fmt.Errorf("field %s must be %s, not %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	}
	return errors.New("not valid JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "bool":
		return "a boolean"
	case "struct", "ptr":
		return "an object"
	}
	return "a " + kind
}

// checkKeys walks a line that json.Unmarshal accepted and refuses unknown,
// differently spelled (encoding/json ignores case) and repeated keys in the
// top-level object and in the object one level down ("password").
func checkKeys(line []byte) error {
	type frame struct {
		object, expectKey bool
		keys              [][]byte
	}
	var stack []frame
	for i := 0; i < len(line); i++ {
		switch c := line[i]; c {
		case '{', '[':
			stack = append(stack, frame{object: c == '{', expectKey: c == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := len(stack) - 1; top >= 0 && stack[top].object {
				stack[top].expectKey = true
			}
		case '"':
			end := stringEnd(line, i)
			top := len(stack) - 1
			if top >= 0 && stack[top].object && stack[top].expectKey {
				stack[top].expectKey = false
				if err := checkKey(line[i+1:end], stack[top].keys, top); err != nil {
					return err
				}
				stack[top].keys = append(stack[top].keys, line[i+1:end])
			}
			i = end
		}
	}
	return nil
}

// stringEnd returns the index of the quote closing the string opened at i.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return len(b) - 1
}

// checkKey checks one raw key of an object at depth (0 = the line).
func checkKey(key []byte, seen [][]byte, depth int) error {
	allowed, where := lineKeys, ""
	if depth == 1 {
		allowed, where = passwordKeys, "password."
	}
	if depth > 1 || !slices.Contains(allowed, string(key)) {
		if len(key) > 40 || !utf8.Valid(key) {
			return errors.New("unknown field")
		}
		return fmt.Errorf("unknown field %q", where+string(key))
	}
	for _, k := range seen {
		if bytes.Equal(k, key) {
			return fmt.Errorf("field %s%s appears twice", where, key)
		}
	}
	return nil
}
