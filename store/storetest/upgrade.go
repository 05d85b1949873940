package storetest

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// DestructiveMark is the comment by which a migration declares that its Up
// section is destructive on purpose, with the reason after it: the contract
// step of an expand-then-contract change, made a release after the code
// stopped using what it removes (see "Rolling upgrades" in docs/deploy.md).
const DestructiveMark = "-- destructive:"

// destructive are the statements that break the previous release running
// against the migrated schema: they remove or rename what it reads or
// writes, change a column's type under it, or make a column it may leave
// out required.
var destructive = []struct {
	name string
	re   *regexp.Regexp
}{
	{"DROP TABLE", regexp.MustCompile(`(?i)\bDROP\s+TABLE\b`)},
	{"DROP COLUMN", regexp.MustCompile(`(?i)\bDROP\s+COLUMN\b`)},
	{"DROP SCHEMA", regexp.MustCompile(`(?i)\bDROP\s+SCHEMA\b`)},
	{"RENAME", regexp.MustCompile(`(?i)\bRENAME\b`)},
	{"ALTER COLUMN … TYPE", regexp.MustCompile(`(?i)\bALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b`)},
	{"SET NOT NULL", regexp.MustCompile(`(?i)\bSET\s+NOT\s+NULL\b`)},
	{"TRUNCATE", regexp.MustCompile(`(?i)\bTRUNCATE\b`)},
	{"DELETE", regexp.MustCompile(`(?i)\bDELETE\s+FROM\b`)},
}

// addColumn matches an added column up to the next one or the statement's end.
var addColumn = regexp.MustCompile(`(?is)\bADD\s+COLUMN\b.*?(?:;|$|(?:\bADD\s+COLUMN\b))`)

// Destructive returns the destructive statements of the Up section of the
// migration src (comments left out), by name, in the order of the list
// above, and whether the migration carries DestructiveMark.
func Destructive(src string) (found []string, marked bool) {
	up := src
	if i := strings.Index(up, "-- +goose Up"); i >= 0 {
		up = up[i:]
	}
	if i := strings.Index(up, "-- +goose Down"); i >= 0 {
		up = up[:i]
	}
	marked = strings.Contains(up, DestructiveMark)
	var code strings.Builder
	for line := range strings.Lines(up) {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i] + "\n"
		}
		code.WriteString(line)
	}
	sql := code.String()
	for _, d := range destructive {
		if d.re.MatchString(sql) {
			found = append(found, d.name)
		}
	}
	// A column added NOT NULL without a default fails the previous
	// release's inserts, which leave it out.
	for rest := sql; ; {
		loc := addColumn.FindStringIndex(rest)
		if loc == nil {
			break
		}
		clause := strings.ToUpper(rest[loc[0]:loc[1]])
		clause = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(clause, "ADD COLUMN")), ";")
		if regexp.MustCompile(`\bNOT\s+NULL\b`).MatchString(clause) && !strings.Contains(clause, "DEFAULT") {
			found = append(found, "ADD COLUMN … NOT NULL without DEFAULT")
		}
		rest = rest[loc[0]+len("ADD COLUMN"):]
	}
	return found, marked
}

// Additive checks that the Up section of every migration in the folder
// migrations of fsys is additive (see Destructive), so that the previous
// release keeps working on the schema this one migrates: a migration that
// is not must carry DestructiveMark, or be among exceptions (file name to
// the reason it is allowed), the ones released before this check existed.
// An exception that is no longer destructive, or names no migration, fails
// too, so that the list stays true.
func Additive(t *testing.T, fsys fs.FS, exceptions map[string]string) {
	t.Helper()
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "migrations/")
		found, marked := Destructive(string(b))
		reason, excepted := exceptions[name]
		seen[name] = true
		switch {
		case len(found) > 0 && !marked && !excepted:
			t.Errorf("migration %s is not additive (%s): the previous release could not run on it; split it into expand and contract across two releases, or mark it %q with the reason",
				name, strings.Join(found, ", "), DestructiveMark+" <reason>")
		case len(found) == 0 && excepted:
			t.Errorf("migration %s is listed as a destructive exception (%s) but is additive", name, reason)
		}
	}
	for name := range exceptions {
		if !seen[name] {
			t.Errorf("the destructive exception %s names no migration", name)
		}
	}
}
