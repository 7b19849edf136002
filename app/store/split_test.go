package store

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	in := `-- comment; with a semicolon
CREATE TABLE a (x TEXT DEFAULT 'a;b', "we;ird" INT8); /* block ; comment */
CREATE INDEX IF NOT EXISTS i ON a (x);;
  INSERT INTO a VALUES ('it''s; fine', 1)
`
	got := SplitStatements(in)
	want := []string{
		`CREATE TABLE a (x TEXT DEFAULT 'a;b', "we;ird" INT8)`,
		`CREATE INDEX IF NOT EXISTS i ON a (x)`,
		`INSERT INTO a VALUES ('it''s; fine', 1)`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func FuzzSplitStatements(f *testing.F) {
	f.Add("CREATE TABLE a (x INT8); CREATE TABLE b (y TEXT DEFAULT ';')")
	f.Add("'unterminated ; string")
	f.Add("/* open comment ; ")
	f.Add("-- only a comment")
	f.Add(`"a""b"; 'c''d'`)
	f.Fuzz(func(t *testing.T, sql string) {
		stmts := SplitStatements(sql)
		for _, s := range stmts {
			if s == "" || s != strings.TrimSpace(s) {
				t.Fatalf("statement %q is empty or untrimmed", s)
			}
		}
		// Splitting a statement that came out of the splitter again must
		// not split it further unless it contained a quoted semicolon that
		// was unterminated in the original.
		if len(stmts) > 0 && !strings.ContainsAny(sql, `'"`) && !strings.Contains(sql, "--") && !strings.Contains(sql, "/*") {
			if n := len(SplitStatements(strings.Join(stmts, ";"))); n != len(stmts) {
				t.Fatalf("re-split of %q gave %d statements, want %d", stmts, n, len(stmts))
			}
		}
	})
}
