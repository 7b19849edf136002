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
func (k keys) deviceLimit(device string) string  { return k.prefix + "lim:d:" + device }
func (k keys) personLimit(person string) string  { return k.prefix + "lim:p:" + person }
func (k keys) earnedLimit(ip netip.Addr) string  { return k.prefix + "lim:e:" + ip.String() }
func (k keys) withdrawn(host string) string      { return k.prefix + "shw:" + host }
func (k keys) lanes(acct string) string          { return k.prefix + "acct:" + acct }
func (k keys) history(ip netip.Addr) string      { return k.prefix + "good:" + ip.String() }
func (k keys) addrAccounts(ip netip.Addr) string { return k.prefix + "hll:a:" + ip.String() }
func (k keys) netAccounts(n netip.Prefix) string { return k.prefix + "hll:n:" + n.String() }
func (k keys) sprayAccounts(fp string) string    { return k.prefix + "hll:p:" + fp }
func (k keys) netStats(n netip.Prefix) string    { return k.prefix + "st:n:" + n.String() }
func (k keys) mode() string                      { return k.prefix + "mode" }
func (k keys) autoMode() string                  { return k.prefix + "mode:auto" }
func (k keys) challenge(id string) string        { return k.prefix + "ch:" + id }

// person is the opaque id of an account whatever the factor (its trusted
// devices' limit, the distinct successes of an address).
func (k keys) person(accountKey string) string { return k.account("", accountKey) }

// device is the opaque id of one of an account's devices.
func (k keys) device(person, device string) string {
	return hex.EncodeToString(mac(k.acct, []byte("device"), []byte{0}, []byte(person), []byte{0}, []byte(device))[:16])
}

// host is what the shared-address reputation is kept for: an IPv4 address,
// or an IPv6 address's /64 (one subscriber's network).
func host(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// successAccounts counts the distinct accounts that logged in from a host
// in window idx.
func (k keys) successAccounts(host string, idx int64) string {
	return k.prefix + "hll:s:" + host + ":" + strconv.FormatInt(idx, 10)
}

// hostStats are a host's unknown-device attempts and failures in window idx.
func (k keys) hostStats(host string, idx int64) string {
	return k.prefix + "st:h:" + host + ":" + strconv.FormatInt(idx, 10)
}

// trustedFailures counts trusted-device failures from an address ("a") or
// subnet ("n") in window idx.
func (k keys) trustedFailures(kind, id string, idx int64) string {
	return k.prefix + "st:tf:" + kind + ":" + id + ":" + strconv.FormatInt(idx, 10)
}

// windowAt is the index of the window of length w holding t, and how much
// of it has passed (0 to 1).
func windowAt(t time.Time, w time.Duration) (idx int64, elapsed float64) {
	n := t.UnixNano()
	return n / int64(w), float64(n%int64(w)) / float64(w)
}

// slide estimates a count over the last window from the current and the
// previous window's counts (the previous weighs what of it is still in).
func slide(cur, prev int64, elapsed float64) float64 {
	return float64(cur) + float64(prev)*(1-elapsed)
}

// globalStats is the region's attempt statistics for the window holding t.
func (k keys) globalStats(t time.Time, window time.Duration) string {
	return k.prefix + "st:g:" + strconv.FormatInt(t.UnixNano()/int64(window), 10)
}

// burstStats is the same for the (shorter) burst window holding t.
func (k keys) burstStats(t time.Time, window time.Duration) string {
	return k.prefix + "st:b:" + strconv.FormatInt(t.UnixNano()/int64(window), 10)
}
