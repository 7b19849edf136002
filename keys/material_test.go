package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseVersion(t *testing.T) {
	for s, want := range map[string]int{"1": 1, "12": 12, "2147483647": 2147483647} {
		if got, err := ParseVersion(s); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0", "-1", "+1", "01", "v1", "1.0", " 1", "1 ", "x"} {
		if got, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) = %d, want an error", s, got)
		}
	}
}

func TestParsePepper(t *testing.T) {
	key := bytes.Repeat([]byte{0xa5}, 32)
	enc := EncodePepper(key)
	for _, in := range []string{enc, enc + "\n", "  " + enc + "\r\n"} {
		got, err := ParsePepper(in)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParsePepper(%q) = %x, %v", in, got, err)
		}
	}
	for _, in := range []string{
		"", "  \n",
		"not base64!",
		base64.RawStdEncoding.EncodeToString(key), // unpadded
		base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0, 0, 0}),
		"QQ==QQ==",
		base64.StdEncoding.EncodeToString(make([]byte, MaxPepperBytes+1)),
	} {
		if _, err := ParsePepper(in); err == nil {
			t.Errorf("ParsePepper(%q) succeeded, want an error", in)
		}
	}
}

func TestParseSigningKeyPEM(t *testing.T) {
	k := mustKey(t, elliptic.P256())
	sec1, err := EncodeSigningKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})

	good := map[string][]byte{
		"SEC 1":                 sec1,
		"SEC 1 trimmed (Vault)": bytes.TrimSpace(sec1),
		"PKCS #8":               pkcs8,
		"openssl ecparam":       append(append([]byte{}, params...), sec1...),
		"leading text":          append([]byte("Bag Attributes\n"), sec1...),
	}
	for name, in := range good {
		got, err := ParseSigningKeyPEM(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !got.Equal(k) {
			t.Errorf("%s: parsed a different key", name)
		}
	}

	p384 := mustKey(t, elliptic.P384())
	p384PEM, _ := EncodeSigningKeyPEM(p384)
	p384der, _ := x509.MarshalPKCS8PrivateKey(p384)
	rsaLike := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: der})
	bad := map[string][]byte{
		"empty (Vault's answer for a key without private part)": nil,
		"blank":             []byte(" \n"),
		"not PEM":           []byte("hello"),
		"P-384":             p384PEM,
		"P-384 PKCS #8":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384der}),
		"RSA block":         rsaLike,
		"two keys":          append(append([]byte{}, sec1...), sec1...),
		"trailing data":     append(append([]byte{}, sec1...), "junk"...),
		"encrypted":         encrypted,
		"garbage DER":       pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}),
		"SEC 1 in PKCS #8":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustDER(t, k)}),
		"params only":       params,
		"public key":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
		"too large":         bytes.Repeat([]byte("A"), maxPEMBytes+1),
		"truncated PEM":     sec1[:len(sec1)-40],
		"SEC 1 zero scalar": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: zeroScalarSEC1()}),
	}
	for name, in := range bad {
		_, err := ParseSigningKeyPEM(in)
		if err == nil {
			t.Errorf("%s: parsed, want an error", name)
			continue
		}
		// The error must not quote the material.
		if b, _ := pem.Decode(in); b != nil && len(b.Bytes) >= 12 {
			body := base64.StdEncoding.EncodeToString(b.Bytes)
			if strings.Contains(err.Error(), body[:16]) {
				t.Errorf("%s: error quotes the input: %v", name, err)
			}
		}
	}
}

func mustDER(t *testing.T, k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// zeroScalarSEC1 is a SEC 1 ECPrivateKey for P-256 whose private scalar is 0.
func zeroScalarSEC1() []byte {
	b, _ := hex.DecodeString("30310201010420" + strings.Repeat("00", 32) + "a00a06082a8648ce3d030107")
	return b
}

// TestRedaction checks that no way of printing, logging or marshalling a key
// shows its material.
func TestRedaction(t *testing.T) {
	pep := Secret{Version: 3, Key: []byte("pepper-material-0123456789abcdef")}
	sk := SigningKey{Name: "gatehouse-signing", Version: 2, Private: mustKey(t, elliptic.P256())}
	set := &Set{Peppers: []Secret{pep}, Signing: []SigningKey{sk}}
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		string(pep.Key), hex.EncodeToString(pep.Key), base64.StdEncoding.EncodeToString(pep.Key),
		fmt.Sprint([]byte(pep.Key)),
		sk.Private.D.String(), sk.Private.D.Text(16),
	}
	var out []string
	for _, v := range []any{pep, &pep, sk, &sk, set, *set, []Secret{pep}, map[string]SigningKey{"k": sk}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			out = append(out, fmt.Sprintf(verb, v))
		}
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(j))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v)
		out = append(out, buf.String())
	}
	for _, o := range out {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Fatalf("key material in %q", o)
			}
		}
	}
	if got := fmt.Sprint(sk); !strings.Contains(got, "gatehouse-signing-v2") {
		t.Errorf("SigningKey prints as %q, want its kid", got)
	}
	if got := fmt.Sprint(set); !strings.Contains(got, "[3]") || !strings.Contains(got, "gatehouse-signing-v2") {
		t.Errorf("Set prints as %q, want its versions", got)
	}
}
