package legacyhash

import "testing"

// BenchmarkVerify times one verification per scheme at the vectors' costs;
// run with a small -benchtime (e.g. 5x), the slow ones take a second each.
func BenchmarkVerify(b *testing.B) {
	want := map[string]bool{
		"mkpasswd-sha-512-r5000": true, "mkpasswd-sha-256-r5000": true, "mkpasswd-sha-512-r656000": true,
		"htpasswd-2y-c10": true, "django-pbkdf2_sha256-260000": true, "rfc7914-ln14": true,
		"argon2cli-id-t2-k65536": true,
	}
	for _, v := range loadVectors(b).Encoded {
		if !want[v.Name] {
			continue
		}
		h, err := Parse(v.Encoded)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(v.Name, func(b *testing.B) {
			for b.Loop() {
				if !h.Verify([]byte(v.Password)) {
					b.Fatal("does not verify")
				}
			}
		})
	}
}
