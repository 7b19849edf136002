package events_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/gatehouse-id/gatehouse/app/events"
)

// sample is a plausible detail for each event type, as the service and
// store write it.
var sample = map[string]map[string]any{
	"user.registered":           {"email_verified": false, "imported": false},
	"login.succeeded":           {"email_hash": strings.Repeat("ab", 32), "session_id": uuid.NewString()},
	"login.failed":              {"email_hash": strings.Repeat("ab", 32), "reason": "invalid_credentials"},
	"login.challenged":          {"email_hash": strings.Repeat("ab", 32)},
	"login.rate_limited":        {"email_hash": "malformed"},
	"account.locked":            {"email_hash": strings.Repeat("ab", 32), "reason": "locked"},
	"account.unlocked":          {"by": "admin"},
	"mfa.challenged":            {"email_hash": strings.Repeat("ab", 32)},
	"mfa.failed":                {"factor": "totp", "reason": "wrong"},
	"session.started":           {"session_id": uuid.NewString(), "client_id": "first-party", "amr": []string{"pwd"}, "acr": "aal1"},
	"sessions.revoked":          {"by": "user"},
	"refresh.reuse_detected":    {"session_id": uuid.NewString(), "client_id": "first-party", "ip": "192.0.2.9", "user_agent": "x", "token_used_at": "2026-05-01T10:00:00Z", "session_revoked": true},
	"device.trusted":            {"device_id": uuid.NewString(), "device_name": "Firefox on Linux"},
	"device.revoked":            {"device_id": uuid.NewString()},
	"passkey.used":              {"session_id": uuid.NewString()},
	"password.reset_requested":  {"reason": "password_reset", "expires_at": "2026-05-01T10:30:00Z"},
	"password.force_reset":      {"by": "admin"},
	"credential.migrated":       {"from": "legacy", "reason": "legacy"},
	"password.breached":         {"found_in_corpus": true},
	"user.banned":               {"by": "admin"},
	"user.unbanned":             {"by": "admin"},
	"defense.mode_changed":      {"from": "normal", "to": "elevated", "operator": "normal", "automatic": "elevated"},
	"keys.rotated":              {"keys": "pepper v2, signing v3"},
	"defense.stuffing_detected": {"mode": "elevated", "failure_ratio": 0.93, "burst_failure_ratio": 0.97},
}

// TestEverySpecHasASchemaAndEveryKindMatchesIt renders one event of every
// stored kind and validates it against docs/events/<Name>.json; secrets put
// in a detail by mistake never reach the stream.
func TestEverySpecHasASchemaAndEveryKindMatchesIt(t *testing.T) {
	files, _ := filepath.Glob("../../docs/events/*.json")
	if len(files) != len(events.Catalog) {
		t.Errorf("%d schemas for %d event types", len(files), len(events.Catalog))
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, spec := range events.Catalog {
		path := "../../docs/events/" + spec.Name + ".json"
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s has no schema: %v", spec.Name, err)
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(path, doc); err != nil {
			t.Fatal(err)
		}
		schema, err := c.Compile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !strings.Contains(string(raw), `"const": "`+spec.Type+`"`) {
			t.Errorf("%s does not fix type %s", path, spec.Type)
		}
		for _, kind := range spec.Kinds {
			user := uuid.New()
			if spec.Family == events.FamilySecurity {
				user = uuid.Nil
			}
			data := map[string]any{"password": "hunter2hunter2", "email": "a@example.org", "token": "ghr_x"}
			for k, v := range sample[kind] {
				data[k] = v
			}
			body, err := events.Encode(events.Record{ID: uuid.New(), UserID: user, HomeRegion: "us-east1", Kind: kind,
				At: time.Now(), IP: "203.0.113.5", UserAgent: "test/1", Data: data})
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"hunter2", "a@example.org", "ghr_x"} {
				if strings.Contains(string(body), secret) {
					t.Errorf("%s leaks %q: %s", kind, secret, body)
				}
			}
			var inst any
			if err := json.Unmarshal(body, &inst); err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Errorf("%s (%s) does not match %s: %v\n%s", kind, spec.Type, path, err, body)
			}
		}
	}
}
