package deploy

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// tfVariable is a module's declared input.
type tfVariable struct {
	name              string
	typed, documented bool
	required          bool // no default
	pos               hcl.Range
}

// tfModuleCall is a `module` block: its source and the inputs it passes.
type tfModuleCall struct {
	name   string
	source string
	args   []string
	pos    hcl.Range
}

// tfDir is one Terraform module directory.
type tfDir struct {
	vars  map[string]tfVariable
	calls []tfModuleCall
}

// moduleMeta are module-block arguments that are not inputs.
var moduleMeta = []string{"source", "version", "providers", "for_each", "count", "depends_on"}

// parseTerraform parses every .tf file under root, by directory.
func parseTerraform(root string) (map[string]*tfDir, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	dirs := map[string]*tfDir{}
	var diags hcl.Diagnostics
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return err
		}
		f, ds := parser.ParseHCLFile(path)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			return nil
		}
		dir := dirs[filepath.Dir(path)]
		if dir == nil {
			dir = &tfDir{vars: map[string]tfVariable{}}
			dirs[filepath.Dir(path)] = dir
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				_, typed := b.Body.Attributes["type"]
				desc, documented := b.Body.Attributes["description"]
				if documented {
					v, ds := desc.Expr.Value(nil)
					documented = !ds.HasErrors() && v.Type().FriendlyName() == "string" && strings.TrimSpace(v.AsString()) != ""
				}
				_, hasDefault := b.Body.Attributes["default"]
				dir.vars[b.Labels[0]] = tfVariable{name: b.Labels[0], typed: typed, documented: documented, required: !hasDefault, pos: b.DefRange()}
			case b.Type == "module" && len(b.Labels) == 1:
				call := tfModuleCall{name: b.Labels[0], pos: b.DefRange()}
				if a, ok := b.Body.Attributes["source"]; ok {
					if v, ds := a.Expr.Value(nil); !ds.HasErrors() && v.Type().FriendlyName() == "string" {
						call.source = v.AsString()
					}
				}
				for name := range b.Body.Attributes {
					if !slices.Contains(moduleMeta, name) {
						call.args = append(call.args, name)
					}
				}
				sort.Strings(call.args)
				dir.calls = append(dir.calls, call)
			}
		}
		return nil
	})
	return dirs, diags
}

// checkTerraform returns every problem: a module call passing an undeclared
// variable or missing a required one, a variable without type or
// description, a local module source that is not there.
func checkTerraform(dirs map[string]*tfDir) []string {
	var problems []string
	for path, dir := range dirs {
		for _, v := range dir.vars {
			if !v.typed {
				problems = append(problems, v.pos.String()+": variable "+v.name+" has no type")
			}
			if !v.documented {
				problems = append(problems, v.pos.String()+": variable "+v.name+" has no description")
			}
		}
		for _, c := range dir.calls {
			if !strings.HasPrefix(c.source, "./") && !strings.HasPrefix(c.source, "../") {
				problems = append(problems, c.pos.String()+": module "+c.name+": only local module sources are checked here, got "+c.source)
				continue
			}
			target := dirs[filepath.Clean(filepath.Join(path, c.source))]
			if target == nil {
				problems = append(problems, c.pos.String()+": module "+c.name+": no Terraform module at "+c.source)
				continue
			}
			for _, a := range c.args {
				if _, ok := target.vars[a]; !ok {
					problems = append(problems, c.pos.String()+": module "+c.name+" passes "+a+", which "+c.source+" does not declare")
				}
			}
			for _, v := range target.vars {
				if v.required && !slices.Contains(c.args, v.name) {
					problems = append(problems, c.pos.String()+": module "+c.name+" does not pass the required variable "+v.name)
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func TestTerraformModuleCalls(t *testing.T) {
	root := filepath.Join(repoRoot(t), "terraform")
	dirs, diags := parseTerraform(root)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	calls := 0
	for _, d := range dirs {
		calls += len(d.calls)
	}
	if calls < 5 {
		t.Fatalf("found %d module calls in %d directories; the envs root should call every module", calls, len(dirs))
	}
	for _, want := range []string{"modules/cockroachdb", "modules/redis", "modules/gke", "modules/vault", "modules/gatehouse", "envs/production"} {
		if dirs[filepath.Join(root, want)] == nil {
			t.Errorf("no Terraform in terraform/%s", want)
		}
	}
	for _, p := range checkTerraform(dirs) {
		t.Error(p)
	}
}

// The checker finds each kind of mistake.
func TestTerraformCheckerFindsMistakes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("modules/m/variables.tf", `
variable "needed" {
  type        = string
  description = "A required input."
}
variable "untyped" {
  description = "No type."
  default     = 1
}
variable "undocumented" {
  type    = number
  default = 1
}
`)
	write("root/main.tf", `
module "a" {
  source = "../modules/m"
  typo   = 1
}
module "b" {
  source = "../modules/absent"
}
`)
	dirs, diags := parseTerraform(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	got := strings.Join(checkTerraform(dirs), "\n")
	for _, want := range []string{"untyped has no type", "undocumented has no description", "passes typo", "does not pass the required variable needed", "no Terraform module at ../modules/absent"} {
		if !strings.Contains(got, want) {
			t.Errorf("checker missed %q; it found:\n%s", want, got)
		}
	}
}
