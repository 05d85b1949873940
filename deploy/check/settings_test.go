package check

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// TestSettingsAreApprovalds holds every environment variable the chart, the
// compose file and the systemd unit give approvald to `approvald --help`,
// which lists every setting: a renamed or removed setting fails here rather
// than being ignored in a deployment.
func TestSettingsAreApprovalds(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "approvald")
	build := exec.Command("go", "-C", filepath.Join("..", ".."), "build", "-o", bin, "./cmd/approvald")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building approvald: %v\n%s", err, out)
	}
	// --help exits with status 0 or 2 depending on the flag package; the
	// text is what counts.
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	known := map[string]bool{}
	for _, name := range regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\bAPPROVALSERVICEAPIKEY\b`).FindAllString(string(help), -1) {
		known[name] = true
	}
	if !known["APPROVALD_DATABASE"] || !known["SECRETS_MNT_PATH"] {
		t.Fatalf("approvald --help lists no settings:\n%s", help)
	}

	used := map[string][]string{}
	for _, c := range cases {
		m := renderCase(t, c)
		for _, d := range m.deployments {
			for _, ctr := range append(slices.Clone(d.Spec.Template.Spec.InitContainers), d.Spec.Template.Spec.Containers...) {
				for _, e := range ctr.Env {
					used[e.Name] = append(used[e.Name], "chart "+c.name)
				}
			}
		}
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join("..", "compose.yaml")}, cli.WithEnv([]string{}))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for name := range project.Services["approvald"].Environment {
		used[name] = append(used[name], "compose.yaml")
	}
	for _, e := range parseUnit(t, unitFile)["Service"]["Environment"] {
		name, _, _ := strings.Cut(e, "=")
		used[name] = append(used[name], "approvald.service")
	}

	for name, where := range used {
		if !known[name] {
			t.Errorf("%s (%s) is not a setting of approvald --help", name, strings.Join(slices.Compact(where), ", "))
		}
	}
}
