package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestClientsCommand: gatehouse clients create|list|show|rotate-secret|delete.
func TestClientsCommand(t *testing.T) {
	env := testEnv(t)
	cli := func(args ...string) (map[string]any, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"clients"}, args...), lookup(env), nil, &out, &errb)
		var v map[string]any
		if err == nil && out.Len() > 0 {
			if jerr := json.Unmarshal(out.Bytes(), &v); jerr != nil {
				t.Fatalf("%v: not JSON: %s", args, out.String())
			}
		}
		return v, err
	}
	created, err := cli("create", "--id", "crm", "--name", "CRM", "--confidential", "--redirect-uri", "https://crm.example/cb",
		"--redirect-uri", "https://crm.example/cb2", "--post-logout-redirect-uri", "https://crm.example/bye")
	if err != nil || created["client_id"] != "crm" || !strings.HasPrefix(created["client_secret"].(string), "ghs_") {
		t.Fatalf("create: %v %v", created, err)
	}
	shown, err := cli("show", "crm")
	if err != nil || shown["client_secret"] != nil || len(shown["redirect_uris"].([]any)) != 2 {
		t.Fatalf("show (the secret is shown once only): %v %v", shown, err)
	}
	rotated, err := cli("rotate-secret", "crm", "--overlap", "2h")
	if err != nil || rotated["client_secret"] == created["client_secret"] || rotated["previous_secret_expires_at"] == nil {
		t.Fatalf("rotate-secret: %v %v", rotated, err)
	}
	pub, err := cli("create", "--name", "Mobile", "--redirect-uri", "com.example.mobile:/cb")
	if err != nil || pub["client_secret"] != nil || !strings.HasPrefix(pub["client_id"].(string), "c_") {
		t.Fatalf("public client: %v %v", pub, err)
	}
	list, err := cli("list")
	if err != nil || len(list["clients"].([]any)) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	if _, err := cli("delete", "crm"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli("show", "crm"); err == nil {
		t.Fatal("show after delete succeeded")
	}
	// Bad input: a clear error, nothing written.
	if _, err := cli("create", "--name", "Bad", "--redirect-uri", "http://evil.example/cb"); err == nil {
		t.Fatal("an http redirect URI off localhost was accepted")
	}
	var ue *usageError
	if _, err := cli("show"); !errors.As(err, &ue) {
		t.Fatalf("show without an id: %v, want a usage error", err)
	}
	if list, _ := cli("list"); len(list["clients"].([]any)) != 1 {
		t.Fatalf("a refused create wrote something: %v", list)
	}
}
