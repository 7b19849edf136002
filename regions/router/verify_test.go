package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestVerify(t *testing.T) {
	w := newWorld(t, 0, nil)
	now := w.clock.now()
	cur := Key{ID: "k2", Secret: testSecret}
	old := Key{ID: "k1", Secret: otherSecret}
	const body = `{"email":"ada@example.com"}`
	n := 0
	fresh := func() string { n++; return nonceN(n) }
	good := func() *http.Request {
		return signed(cur, regionA, regionB, "POST", "/v1/login?x=1", body, now, fresh())
	}

	for _, tc := range []struct {
		name string
		req  func() *http.Request
		body string
		want error // nil: accepted
	}{
		{"valid", good, body, nil},
		{"valid, previous key", func() *http.Request {
			return signed(old, regionC, regionB, "POST", "/v1/login?x=1", body, now, fresh())
		}, body, nil},
		{"valid, 29 s old", func() *http.Request {
			return signed(cur, regionA, regionB, "POST", "/v1/login?x=1", body, now.Add(-29*time.Second), fresh())
		}, body, nil},
		{"no header", func() *http.Request {
			r := good()
			r.Header.Del(HeaderForwarded)
			return r
		}, body, ErrNotForwarded},
		{"forged signature", func() *http.Request {
			r := good()
			h := r.Header.Get(HeaderForwarded)
			i := strings.Index(h, "sig=") + 4
			c := byte('A')
			if h[i] == 'A' {
				c = 'B'
			}
			r.Header.Set(HeaderForwarded, h[:i]+string(c)+h[i+1:])
			return r
		}, body, ErrBadSignature},
		{"signed with an unknown secret under a known id", func() *http.Request {
			return signed(Key{ID: "k2", Secret: bytes.Repeat([]byte{7}, 32)}, regionA, regionB, "POST", "/v1/login?x=1", body, now, fresh())
		}, body, ErrBadSignature},
		{"wrong body", good, `{"email":"eve@example.com"}`, ErrBadSignature},
		{"empty body", good, ``, ErrBadSignature},
		{"other path", func() *http.Request {
			r := good()
			r.RequestURI = "/v1/users?x=1"
			return r
		}, body, ErrBadSignature},
		{"other query", func() *http.Request {
			r := good()
			r.RequestURI = "/v1/login?x=2"
			return r
		}, body, ErrBadSignature},
		{"other method", func() *http.Request {
			r := good()
			r.Method = "PUT"
			return r
		}, body, ErrBadSignature},
		{"authorization added", func() *http.Request {
			r := good()
			r.Header.Set("Authorization", "Bearer stolen")
			return r
		}, body, ErrBadSignature},
		{"client address changed", func() *http.Request {
			r := good()
			r.Header.Set(HeaderForwarded, strings.Replace(r.Header.Get(HeaderForwarded), "client=198.51.100.9", "client=198.51.100.10", 1))
			return r
		}, body, ErrBadSignature},
		{"expired", func() *http.Request {
			return signed(cur, regionA, regionB, "POST", "/v1/login?x=1", body, now.Add(-31*time.Second), fresh())
		}, body, ErrExpired},
		{"from the future", func() *http.Request {
			return signed(cur, regionA, regionB, "POST", "/v1/login?x=1", body, now.Add(10*time.Second), fresh())
		}, body, ErrExpired},
		{"unknown key id", func() *http.Request {
			return signed(Key{ID: "k9", Secret: testSecret}, regionA, regionB, "POST", "/v1/login?x=1", body, now, fresh())
		}, body, ErrUnknownKey},
		{"entry region not in the topology", func() *http.Request {
			return signed(cur, "mars-north1", regionB, "POST", "/v1/login?x=1", body, now, fresh())
		}, body, ErrNotFromRegion},
		{"entry region is this region", func() *http.Request {
			return signed(cur, regionB, regionB, "POST", "/v1/login?x=1", body, now, fresh())
		}, body, ErrNotFromRegion},
		{"signed for another region", func() *http.Request {
			return signed(cur, regionA, regionC, "POST", "/v1/login?x=1", body, now, fresh())
		}, body, ErrNotFromRegion},
		{"header twice", func() *http.Request {
			r := good()
			r.Header.Add(HeaderForwarded, r.Header.Get(HeaderForwarded))
			return r
		}, body, ErrBadHeader},
		{"garbage", func() *http.Request {
			r := good()
			r.Header.Set(HeaderForwarded, "v=1; entry=us-east1")
			return r
		}, body, ErrBadHeader},
	} {
		fw, err := w.b.ver.Check(tc.req(), []byte(tc.body))
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		case tc.want == nil && (fw.ClientAddr != "198.51.100.9" || fw.EntryRegion == ""):
			t.Errorf("%s: got %+v", tc.name, fw)
		}
		if _, ok := w.b.ver.Verify(tc.req(), []byte(tc.body)); ok != (tc.want == nil) {
			t.Errorf("%s: Verify ok = %v", tc.name, ok)
		}
	}
}

func TestVerifyRefusesReplay(t *testing.T) {
	w := newWorld(t, 0, nil)
	r := signed(Key{ID: "k2", Secret: testSecret}, regionA, regionB, "POST", "/v1/login", `{}`, w.clock.now(), nonceN(1))
	if _, err := w.b.ver.Check(r, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.b.ver.Check(r, []byte(`{}`)); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	// Once expired, the nonce is forgotten, and the header refused anyway.
	w.clock.add(time.Minute)
	if _, err := w.b.ver.Check(r, []byte(`{}`)); !errors.Is(err, ErrExpired) {
		t.Fatalf("old replay: %v", err)
	}
}

func TestReplayCacheBounded(t *testing.T) {
	c := &replayCache{capacity: 2, seen: map[string]time.Time{}}
	now := time.Unix(1000, 0)
	if !c.add("a", now.Add(time.Second), now) || !c.add("b", now.Add(time.Second), now) {
		t.Fatal("refused while not full")
	}
	if c.add("c", now.Add(time.Second), now) {
		t.Fatal("accepted beyond capacity")
	}
	if !c.add("c", now.Add(3*time.Second), now.Add(2*time.Second)) {
		t.Fatal("expired entries not swept")
	}
}

func TestForwardable(t *testing.T) {
	r, _ := http.NewRequest("POST", "/v1/login", nil)
	if !Forwardable(r) {
		t.Error("plain request not forwardable")
	}
	r.Header.Set(HeaderForwarded, "anything")
	if Forwardable(r) {
		t.Error("request with a forwarding header forwardable")
	}
	r, _ = http.NewRequest("POST", "/v1/login", nil)
	r = r.WithContext(WithForwarded(r.Context(), Forwarded{EntryRegion: regionA}))
	if Forwardable(r) {
		t.Error("verified forwarded request forwardable")
	}
	if fw, ok := FromContext(r.Context()); !ok || fw.EntryRegion != regionA {
		t.Errorf("FromContext = %+v, %v", fw, ok)
	}
}

func TestKeys(t *testing.T) {
	if _, err := NewStaticKeys(Key{ID: "k1", Secret: make([]byte, 31)}); err == nil {
		t.Error("31-byte secret accepted")
	}
	if _, err := NewStaticKeys(Key{ID: "k1", Secret: testSecret}, Key{ID: "k1", Secret: otherSecret}); err == nil {
		t.Error("duplicate id accepted")
	}
	if _, err := NewStaticKeys(Key{ID: "bad id", Secret: testSecret}); err == nil {
		t.Error("bad id accepted")
	}
	secret := bytes.Repeat([]byte{0xAB}, 32)
	b64 := "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="
	ks, err := ParseKeys("k2:" + b64 + ", k1:" + b64)
	if err != nil {
		t.Fatal(err)
	}
	if ks.Current().ID != "k2" || !bytes.Equal(ks.Current().Secret, secret) {
		t.Errorf("current = %v", ks.Current())
	}
	if _, ok := ks.Lookup("k1"); !ok {
		t.Error("previous key not found")
	}
	for _, bad := range []string{"", "k1", "k1:!!!!", "k1:" + b64[:20]} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		} else if strings.Contains(err.Error(), b64[:10]) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
	// The secret never shows in print, logs or JSON.
	k := ks.Current()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "key", k, "keys", ks)
	js, _ := json.Marshal(k)
	out := fmt.Sprintf("%v %+v %#v %s %v", k, k, k, k, &k) + logged.String() + string(js) + ks.String()
	if strings.Contains(out, b64) || strings.Contains(out, string(secret)) || strings.Contains(out, "171") {
		t.Errorf("secret leaked: %s", out)
	}
}
