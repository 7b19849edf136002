// Package regions describes where Gatehouse runs: the set of regions, each
// with its public and internal addresses, its Redis and its database
// locality. A topology file is loaded and validated here; the router that
// forwards requests to a user's home region builds on it.
package regions

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Region is one region of the deployment.
type Region struct {
	// Name is the region's name, as in CockroachDB's localities: "us-east1".
	Name string `yaml:"name"`
	// PublicURL is where clients reach the region.
	PublicURL string `yaml:"public_url"`
	// InternalURL is where other regions forward requests to.
	InternalURL string `yaml:"internal_url"`
	// RedisURL is the region's own Redis (GATEHOUSE_REDIS_URL syntax).
	RedisURL string `yaml:"redis_url"`
	// DatabaseLocality is the CockroachDB locality of the region's nodes.
	DatabaseLocality string `yaml:"database_locality"`
}

// Topology is the whole deployment.
type Topology struct {
	// Primary is the CockroachDB primary region.
	Primary string   `yaml:"primary"`
	Regions []Region `yaml:"regions"`
}

var regionName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// Parse reads and validates a topology document. Unknown fields are errors,
// so a typo in an operator's file is caught at start.
func Parse(data []byte) (*Topology, error) {
	var t Topology
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("regions: %w", err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Validate checks names, URLs and the primary region.
func (t *Topology) Validate() error {
	if len(t.Regions) == 0 {
		return errors.New("regions: no regions defined")
	}
	seen := map[string]bool{}
	for i, r := range t.Regions {
		if !regionName.MatchString(r.Name) {
			return fmt.Errorf("regions: region %d: name %q must be lower-case letters, digits and dashes", i+1, r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("regions: region %q defined twice", r.Name)
		}
		seen[r.Name] = true
		for field, raw := range map[string]string{"public_url": r.PublicURL, "internal_url": r.InternalURL} {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("regions: region %q: %s %q is not an http(s) URL", r.Name, field, raw)
			}
		}
		if r.RedisURL == "" {
			return fmt.Errorf("regions: region %q: redis_url is required", r.Name)
		}
	}
	if t.Primary == "" {
		t.Primary = t.Regions[0].Name
	}
	if !seen[t.Primary] {
		return fmt.Errorf("regions: primary region %q is not among the regions", t.Primary)
	}
	return nil
}

// Lookup finds a region by name.
func (t *Topology) Lookup(name string) (Region, bool) {
	for _, r := range t.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// Names lists the region names, the primary first.
func (t *Topology) Names() []string {
	out := []string{t.Primary}
	for _, r := range t.Regions {
		if r.Name != t.Primary {
			out = append(out, r.Name)
		}
	}
	return out
}

// String lists the region names.
func (t *Topology) String() string { return strings.Join(t.Names(), ",") }
