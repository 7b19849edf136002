package defense

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// keys builds the Redis keys of one Guard. Every key is used alone, so none
// needs a hash tag on Redis Cluster. Accounts and passwords appear only as
// keyed, truncated HMACs.
type keys struct {
	prefix string
	v4, v6 int
	acct   []byte // HMAC key for account ids
	pw     []byte // HMAC key for password fingerprints
	fpLen  int
}

func newKeys(cfg Config, secret []byte) keys {
	return keys{prefix: cfg.KeyPrefix, v4: cfg.IPv4Prefix, v6: cfg.IPv6Prefix,
		acct: derive(secret, "gatehouse/defense/account/v1"), pw: derive(secret, "gatehouse/defense/password-fingerprint/v1"),
		fpLen: cfg.Detection.FingerprintBytes}
}

// derive makes a purpose-bound key from the Guard's secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// normaliseIP unmaps IPv4-in-IPv6 and drops zones, so one client has one key.
func normaliseIP(ip netip.Addr) (netip.Addr, error) {
	if !ip.IsValid() {
		return netip.Addr{}, fmt.Errorf("defense: attempt without a valid client address")
	}
	return ip.Unmap().WithZone(""), nil
}

// subnet is the address's network at the configured prefix.
func (k keys) subnet(ip netip.Addr) netip.Prefix {
	bits := k.v6
	if ip.Is4() {
		bits = k.v4
	}
	p, _ := ip.Prefix(bits)
	return p
}

// account is the opaque id of an account on one factor.
func (k keys) account(factor, accountKey string) string {
	return hex.EncodeToString(mac(k.acct, []byte(factor), []byte{0}, []byte(accountKey))[:16])
}

// fingerprint is the keyed, truncated HMAC of a password; "" without one.
func (k keys) fingerprint(password []byte) string {
	if len(password) == 0 {
		return ""
	}
	return hex.EncodeToString(mac(k.pw, password)[:k.fpLen])
}

func (k keys) addrLimit(class string, ip netip.Addr) string {
	return k.prefix + "lim:a:" + class + ":" + ip.String()
}
func (k keys) netLimit(class string, n netip.Prefix) string {
	return k.prefix + "lim:n:" + class + ":" + n.String()
}
func (k keys) globalLimit(class string) string   { return k.prefix + "lim:g:" + class }
func (k keys) lanes(acct string) string          { return k.prefix + "acct:" + acct }
func (k keys) history(ip netip.Addr) string      { return k.prefix + "good:" + ip.String() }
func (k keys) addrAccounts(ip netip.Addr) string { return k.prefix + "hll:a:" + ip.String() }
func (k keys) netAccounts(n netip.Prefix) string { return k.prefix + "hll:n:" + n.String() }
func (k keys) sprayAccounts(fp string) string    { return k.prefix + "hll:p:" + fp }
func (k keys) netStats(n netip.Prefix) string    { return k.prefix + "st:n:" + n.String() }
func (k keys) mode() string                      { return k.prefix + "mode" }
func (k keys) autoMode() string                  { return k.prefix + "mode:auto" }
func (k keys) challenge(id string) string        { return k.prefix + "ch:" + id }

// globalStats is the region's attempt statistics for the window holding t.
func (k keys) globalStats(t time.Time, window time.Duration) string {
	return k.prefix + "st:g:" + strconv.FormatInt(t.UnixNano()/int64(window), 10)
}
