package importer

import "testing"

// BenchmarkParseLine measures the per-line parse cost of a typical line.
func BenchmarkParseLine(b *testing.B) {
	line := []byte(`{"email":"User12345@Example.com","external_id":"ext-12345","email_verified":true,"created_at":"2021-06-01T12:00:00Z","password":{"algorithm":"sha1","encoding":"base64","salt":"s12345","salt_position":"prefix","hash":"W6ph5Mm5Pz8GgiULbPgzG37mj9g="}}`)
	p := testParser()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(line, 1); err != nil {
			b.Fatal(err)
		}
	}
}
