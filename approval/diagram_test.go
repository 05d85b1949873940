package approval

import (
	"os"
	"strings"
	"testing"
)

// TestDiagram_DocsShowTheTable keeps docs/state-machine.md in step with the
// transition table. Regenerate with: go test ./approval -run Diagram -update
func TestDiagram_DocsShowTheTable(t *testing.T) {
	const path = "../docs/state-machine.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "```mermaid\n" + Diagram() + "```\n"
	if !strings.Contains(string(doc), want) {
		t.Fatalf("%s does not hold the current diagram; it should contain:\n%s", path, want)
	}
}
