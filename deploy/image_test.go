package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStaticBinary builds the server as the Dockerfile does (CGO_ENABLED=0)
// and checks that it is static: no program interpreter and no dynamic
// section, so it runs on distroless/static or scratch. It also runs it.
func TestStaticBinary(t *testing.T) {
	root := repoRoot(t)
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if problems := dynamicParts(t, bin); len(problems) > 0 {
		t.Fatalf("the CGO_ENABLED=0 binary is not static: %s", strings.Join(problems, "; "))
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("gatehouse version: %v\n%s", err, out)
	}
}

// The check itself tells a dynamic binary: a cgo build of net, when the
// machine has a C toolchain, or any system binary.
func TestStaticCheckSeesDynamicBinary(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	sh, _ = filepath.EvalSymlinks(sh)
	if len(dynamicParts(t, sh)) == 0 {
		t.Fatalf("%s reported static", sh)
	}
}

func dynamicParts(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var problems []string
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			problems = append(problems, "PT_INTERP (needs a dynamic loader)")
		case elf.PT_DYNAMIC:
			problems = append(problems, "PT_DYNAMIC")
		}
	}
	if f.Section(".dynamic") != nil {
		problems = append(problems, ".dynamic section")
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		problems = append(problems, "links "+strings.Join(libs, ", "))
	}
	return problems
}

// TestDockerfile: a multi-stage build of a CGO_ENABLED=0 binary onto a
// distroless or scratch base, run as a non-root user.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(text, -1)
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, found %d FROM lines", len(froms))
	}
	final := froms[len(froms)-1][1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage is %s, want distroless/static or scratch", final)
	}
	if !strings.Contains(text, "CGO_ENABLED=0") {
		t.Error("the build does not set CGO_ENABLED=0")
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(text, -1)
	if len(user) == 0 || strings.HasPrefix(user[len(user)-1][1], "0") || strings.HasPrefix(user[len(user)-1][1], "root") {
		t.Errorf("the image does not switch to a non-root user: %v", user)
	}
}
