package regions

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestLocalTopology(t *testing.T) {
	data, err := os.ReadFile("local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := topo.Names(), []string{"us-east1", "europe-west1", "asia-south1"}; !slices.Equal(got, want) {
		t.Fatalf("names = %v, want %v", got, want)
	}
	eu, ok := topo.Lookup("europe-west1")
	if !ok || eu.PublicURL != "http://127.0.0.1:8081" || eu.RedisURL != "redis://127.0.0.1:6379/1" {
		t.Fatalf("europe-west1 = %+v", eu)
	}
	if _, ok := topo.Lookup("mars-north1"); ok {
		t.Fatal("unknown region found")
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"empty":       `regions: []`,
		"bad name":    "regions:\n  - {name: US_EAST, public_url: http://a, internal_url: http://a, redis_url: redis://a}",
		"duplicate":   "regions:\n  - {name: a1, public_url: http://a, internal_url: http://a, redis_url: redis://a}\n  - {name: a1, public_url: http://a, internal_url: http://a, redis_url: redis://a}",
		"bad url":     "regions:\n  - {name: a1, public_url: 'ftp://a', internal_url: http://a, redis_url: redis://a}",
		"no redis":    "regions:\n  - {name: a1, public_url: http://a, internal_url: http://a}",
		"bad primary": "primary: b1\nregions:\n  - {name: a1, public_url: http://a, internal_url: http://a, redis_url: redis://a}",
		"unknown key": "regions:\n  - {name: a1, public_url: http://a, internal_url: http://a, redis_url: redis://a, colour: red}",
		"not yaml":    "{{{",
	}
	for name, doc := range cases {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "regions: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile("local.yaml")
	f.Add(string(data))
	f.Add("primary: a1\nregions:\n  - {name: a1, public_url: http://a, internal_url: http://a, redis_url: redis://a}")
	f.Add("regions: [")
	f.Fuzz(func(t *testing.T, doc string) {
		topo, err := Parse([]byte(doc))
		if err != nil {
			return
		}
		if len(topo.Regions) == 0 {
			t.Fatal("accepted a topology without regions")
		}
		if _, ok := topo.Lookup(topo.Primary); !ok {
			t.Fatal("accepted a primary that is not a region")
		}
	})
}
