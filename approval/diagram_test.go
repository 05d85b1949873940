package approval

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the diagram in docs/state-machine.md")

// TestDiagram_DocsShowTheTable keeps docs/state-machine.md in step with the
// transition table. Regenerate with: go test ./approval -run Diagram -update
func TestDiagram_DocsShowTheTable(t *testing.T) {
	const path = "../docs/state-machine.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "```mermaid\n" + Diagram() + "```\n"
	if *update {
		block := regexp.MustCompile("(?s)```mermaid\n.*?```\n")
		doc = []byte(block.ReplaceAllLiteralString(string(doc), want))
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(doc), want) {
		t.Fatalf("%s does not hold the current diagram; it should contain:\n%s", path, want)
	}
}
