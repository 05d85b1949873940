package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requirePromtool makes a promtool test that would skip fail instead
// (.ci/run sets it).
const requirePromtool = "APPROVALD_REQUIRE_PROMTOOL"

// promtoolBin returns Prometheus's promtool: the one .ci/run extracts into
// .ci/tools/bin, else one on PATH. Without either the test skips, unless
// APPROVALD_REQUIRE_PROMTOOL=1.
func promtoolBin(t *testing.T) string {
	t.Helper()
	if bin, err := filepath.Abs(filepath.Join("..", "..", ".ci", "tools", "bin", "promtool")); err == nil {
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(requirePromtool) == "1" {
			t.Fatalf("promtool is required (%s=1) but not found: %v", requirePromtool, err)
		}
		t.Skipf("promtool is not installed (.ci/run fetches it from Debian's prometheus package): %v", err)
	}
	return bin
}

// promtoolCheck runs promtool check metrics on a scrape and returns what it
// reports; promtool exits non-zero on any problem, naming warnings included.
func promtoolCheck(t *testing.T, bin string, scrape []byte) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestMetrics_PromtoolAcceptsTheScrape(t *testing.T) {
	t.Parallel()
	bin := promtoolBin(t)

	// The check bites: a counter without _total and a metric without help.
	bad := "# TYPE approvald_things counter\napprovald_things 1\n"
	if out, err := promtoolCheck(t, bin, []byte(bad)); err == nil || out == "" {
		t.Fatalf("promtool passed a badly named counter: %v %q", err, out)
	}

	// A scrape after an end-to-end flow, so that every labelled series
	// exists: deliveries, decisions, refusals, the gateway upstream.
	base, _, _ := flowWithGateway(t, nil)
	admin := client{t: t, base: base, key: testAdminKey}
	admin.as("apd_not-a-key-0123456789abcdefghijklmn").must(401, "GET", "/v1/approvals", nil)

	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(scrape, []byte("approvald_decisions_total")) {
		t.Fatalf("GET /metrics: %d\n%s", resp.StatusCode, scrape)
	}
	if out, err := promtoolCheck(t, bin, scrape); err != nil || out != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
