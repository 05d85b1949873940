package main

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"approvald/gateway"
	"approvald/web"
)

// TestConfig_FlagsReplaceTheirVariablesForEveryReader: a setting that the
// web UI or the gateway reads through getenv takes its flag's value when
// the flag is given, and the environment's otherwise.
func TestConfig_FlagsReplaceTheirVariablesForEveryReader(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"APPROVALD_UI_SESSION_TTL":  "1h",
		"APPROVALD_GATEWAY_TIMEOUT": "10m",
		"APPROVALD_RATE_LIMIT":      "5",
		"APPROVALD_GATEWAY_POLICY":  "from-the-environment",
	}
	c, err := parseConfig([]string{"--ui-session-ttl", "2h", "--gateway-timeout=30s", "--rate-limit", "7", "--ui-key-signin=false",
		"--oidc-issuer", "https://idp.example.com", "--oidc-client-id", "approvald", "--oidc-audience", "approvald"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ui, err := web.ConfigFromEnv(c.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if ui.SessionTTL != 2*time.Hour || ui.KeySignIn || ui.OIDC.ClientID != "approvald" || ui.OIDC.Issuer != "https://idp.example.com" {
		t.Errorf("web UI: ttl %s, key sign-in %t, OIDC %+v", ui.SessionTTL, ui.KeySignIn, ui.OIDC)
	}
	gw, err := gateway.ConfigFromEnv(c.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if gw.Timeout != 30*time.Second {
		t.Errorf("gateway timeout %s, want 30s", gw.Timeout)
	}
	if got := c.Getenv("APPROVALD_GATEWAY_POLICY"); got != "from-the-environment" {
		t.Errorf("a variable without its flag reads %q", got)
	}
	if c.Limits.Rate != 7 || c.OIDC.Issuer != "https://idp.example.com" || c.OIDC.Audience != "approvald" {
		t.Errorf("rate %v, OIDC %+v", c.Limits.Rate, c.OIDC)
	}

	for _, args := range [][]string{{"--ui-session-ttl", "soon"}, {"--ui=maybe"}, {"--rate-burst", "many"}, {"--gateway-timeout", "0s"}} {
		if _, err := parseConfig(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// readmeConfiguration returns the rows of the README's configuration
// table: variable → flag ("" for "environment only").
func readmeConfiguration(t *testing.T) map[string]string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	row := regexp.MustCompile("^\\| (?:`--([a-z0-9-]+)`|(environment only)) \\| `([A-Z0-9_]+)` \\|")
	for line := range strings.Lines(string(readme)) {
		if m := row.FindStringSubmatch(line); m != nil {
			if _, twice := rows[m[3]]; twice {
				t.Errorf("the README's configuration table has two rows for %s", m[3])
			}
			rows[m[3]] = m[1]
		}
	}
	if len(rows) < 20 {
		t.Fatalf("found only %d rows of the README's configuration table", len(rows))
	}
	return rows
}

// readBySDK are variables the OpenTelemetry SDK reads from the process
// environment itself, which approvald documents.
var readBySDK = []string{"OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"}

// notVariables are names in approvald's code that look like variables
// and are not.
var notVariables = map[string]string{
	"APPROVALD_EVENTS": "the NATS stream's name",
}

// TestREADME_ConfigurationTableNamesEveryVariable: every environment
// variable approvald's code reads is a row of the README's configuration
// table and no row names one it does not read; a row with a flag is the
// flag --help names the variable with, and a row "environment only" is a
// variable --help's footer lists and no flag sets.
func TestREADME_ConfigurationTableNamesEveryVariable(t *testing.T) {
	t.Parallel()
	rows := readmeConfiguration(t)
	read := variablesRead(t)
	for _, v := range readBySDK {
		read[v] = "the OpenTelemetry SDK"
	}
	for v, where := range read {
		if _, ok := rows[v]; !ok {
			t.Errorf("%s (read in %s) is not in the README's configuration table", v, where)
		}
	}
	for v := range rows {
		if _, ok := read[v]; !ok {
			t.Errorf("the README's configuration table lists %s, which approvald does not read", v)
		}
	}

	var help bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &help); err == nil {
		t.Fatal("--help did not stop parsing")
	}
	flagOf := map[string]string{} // variable → flag, from --help
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)`)
	envName := regexp.MustCompile(`\(([A-Z][A-Z0-9_]+)\)`)
	footer := ""
	var name string
	sc := bufio.NewScanner(bytes.NewReader(help.Bytes()))
	for sc.Scan() {
		line := sc.Text()
		switch m := flagLine.FindStringSubmatch(line); {
		case m != nil:
			name = m[1]
		case !strings.HasPrefix(line, "    \t"):
			name = ""
			footer += line + "\n"
		case name != "":
			if m := envName.FindStringSubmatch(line); m != nil {
				flagOf[m[1]] = name
			}
		}
	}
	var envOnly []string
	for _, g := range environmentOnly {
		envOnly = append(envOnly, g.names...)
	}
	for v, f := range rows {
		switch {
		case f != "" && flagOf[v] != f:
			t.Errorf("the README gives %s the flag --%s; --help: %q", v, f, flagOf[v])
		case f == "" && flagOf[v] != "":
			t.Errorf("the README says %s is environment only; --help gives it --%s", v, flagOf[v])
		case f == "" && !slices.Contains(envOnly, v):
			t.Errorf("the README says %s is environment only; environmentOnly does not list it", v)
		}
	}
	for _, v := range envOnly {
		if f, ok := rows[v]; !ok || f != "" {
			t.Errorf("%s is environment only; the README's row: %q", v, f)
		}
		if !strings.Contains(footer, v) {
			t.Errorf("--help's footer does not list %s", v)
		}
	}
}

// variablesRead returns the environment variables named in approvald's
// code — string literals such as "APPROVALD_ADDR" in the non-test files of
// this package and of every package of the module it imports — with the
// file of one mention.
func variablesRead(t *testing.T) map[string]string {
	t.Helper()
	const module = "approvald"
	looksLikeVariable := regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^APPROVALSERVICEAPIKEY$`)
	found := map[string]string{}
	seen := map[string]bool{}
	queue := []string{"."}
	fset := token.NewFileSet()
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		if seen[dir] {
			continue
		}
		seen[dir] = true
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s (%v)", dir, err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if rest, ok := strings.CutPrefix(path, module+"/"); ok {
					queue = append(queue, filepath.Join("..", "..", filepath.FromSlash(rest)))
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err == nil && looksLikeVariable.MatchString(s) && notVariables[s] == "" {
					found[s] = file
				}
				return true
			})
		}
	}
	return found
}
