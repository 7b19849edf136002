package transit

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gatehouse-id/gatehouse/keys"
)

// FuzzExportResponse: whatever Vault (or something pretending to be Vault)
// answers to an export, parsing it never panics, and only positive versions
// at or above the minimum come out. The material is then handed to the
// keys package's parsers, fuzzed there.
func FuzzExportResponse(f *testing.F) {
	f.Add([]byte(`{"name":"gatehouse-pepper","type":"hmac","keys":{"1":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","2":"QQ=="}}`), 1)
	f.Add([]byte(`{"keys":{"1":"-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----"}}`), 2)
	f.Add([]byte(`{"keys":{"0":"x","-1":"y","01":"z"}}`), 0)
	f.Add([]byte(`{"keys":{"1":1}}`), 1)
	f.Add([]byte(`{"keys":[]}`), 1)
	f.Add([]byte(`{}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, minVersion int) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber() // as the Vault client decodes
		var data map[string]any
		if dec.Decode(&data) != nil {
			return
		}
		out, err := parseExport(data, minVersion)
		if err != nil {
			return
		}
		if len(out) == 0 {
			t.Fatal("no versions and no error")
		}
		for v, material := range out {
			if v <= 0 || v < minVersion {
				t.Fatalf("version %d came out with minimum %d", v, minVersion)
			}
			_, _ = keys.ParsePepper(material)
			_, _ = keys.ParseSigningKeyPEM([]byte(material))
		}
	})
}

// FuzzKeyInfo: a key description never makes parsing panic.
func FuzzKeyInfo(f *testing.F) {
	f.Add([]byte(`{"type":"hmac","exportable":true,"latest_version":2,"min_decryption_version":1}`))
	f.Add([]byte(`{"latest_version":-1}`))
	f.Add([]byte(`{"min_decryption_version":1e400}`))
	f.Add([]byte(`{"min_decryption_version":"1"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var data map[string]any
		if dec.Decode(&data) != nil {
			return
		}
		info, err := parseKeyInfo(data)
		if err == nil && (info.latestVersion < 0 || info.minDecryptionVersion < 0) {
			t.Fatalf("negative version accepted: %+v", info)
		}
	})
}
