package password

import "testing"

func TestParamsValidate(t *testing.T) {
	cases := []struct {
		name  string
		p     Params
		valid bool
	}{
		{"default", DefaultParams(), true},
		{"owasp t=1", Params{MemoryKiB: 46 * 1024, Iterations: 1, Parallelism: 1}, true},
		{"owasp t=1 too little memory", Params{MemoryKiB: 46*1024 - 1, Iterations: 1, Parallelism: 1}, false},
		{"owasp t=2", Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}, true},
		{"owasp t=2 too little memory", Params{MemoryKiB: 19*1024 - 1, Iterations: 2, Parallelism: 1}, false},
		{"owasp t=3", Params{MemoryKiB: 12 * 1024, Iterations: 3, Parallelism: 1}, true},
		{"owasp t=3 too little memory", Params{MemoryKiB: 12*1024 - 1, Iterations: 3, Parallelism: 1}, false},
		{"owasp t=5", Params{MemoryKiB: 12 * 1024, Iterations: 5, Parallelism: 1}, true},
		{"zero", Params{}, false},
		{"no parallelism", Params{MemoryKiB: 64 * 1024, Iterations: 3}, false},
		{"no iterations", Params{MemoryKiB: 64 * 1024, Parallelism: 1}, false},
		{"parallelism 4", Params{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 4}, true},
		{"parallelism too high", Params{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: MaxParallelism + 1}, false},
		{"memory at max", Params{MemoryKiB: MaxMemoryKiB, Iterations: 3, Parallelism: 1}, true},
		{"memory above max", Params{MemoryKiB: MaxMemoryKiB + 1, Iterations: 3, Parallelism: 1}, false},
		{"iterations above max", Params{MemoryKiB: 64 * 1024, Iterations: MaxIterations + 1, Parallelism: 1}, false},
	}
	for _, c := range cases {
		err := c.p.Validate()
		if (err == nil) != c.valid {
			t.Errorf("%s: %+v.Validate() = %v, want valid=%v", c.name, c.p, err, c.valid)
		}
	}
}

func TestDefaultParams(t *testing.T) {
	if got, want := DefaultParams(), (Params{MemoryKiB: 65536, Iterations: 3, Parallelism: 1}); got != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", got, want)
	}
	if got := DefaultParams().String(); got != "m=65536,t=3,p=1" {
		t.Fatalf("String() = %q", got)
	}
}
