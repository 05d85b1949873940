package main

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"maps"
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

// envOf returns a getenv over vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// TestConfig_FlagsOverrideVariablesForEveryPackage: the web UI's and the
// gateway's settings take their flag's value when the flag is given, and
// the environment's otherwise; approvald hands them over as plain structs.
func TestConfig_FlagsOverrideVariablesForEveryPackage(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"APPROVALD_UI_SESSION_TTL":  "1h",
		"APPROVALD_GATEWAY_TIMEOUT": "10m",
		"APPROVALD_RATE_LIMIT":      "5",
		"APPROVALD_GATEWAY_POLICY":  "from-the-environment",
		"SECRETS_MNT_PATH":          t.TempDir(),
	}
	c, err := parseConfig([]string{"--ui-session-ttl", "2h", "--gateway-timeout=30s", "--rate-limit", "7", "--ui-key-signin=false",
		"--oidc-issuer", "https://idp.example.com", "--oidc-client-id", "approvald", "--oidc-audience", "approvald"},
		envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ui := c.UI; ui.SessionTTL != 2*time.Hour || ui.KeySignIn || ui.OIDC.ClientID != "approvald" || ui.OIDC.Issuer != "https://idp.example.com" {
		t.Errorf("web UI: ttl %s, key sign-in %t, OIDC %+v", ui.SessionTTL, ui.KeySignIn, ui.OIDC)
	}
	if got := strings.Join(c.UI.OIDC.Scopes, " "); got != "openid profile email" {
		t.Errorf("UI scopes %q", got)
	}
	if c.Gateway.Timeout != 30*time.Second || c.Gateway.ValidateTimeout != gateway.DefaultValidateTimeout {
		t.Errorf("gateway timeouts %s and %s, want 30s and the default", c.Gateway.Timeout, c.Gateway.ValidateTimeout)
	}
	if c.GatewayPolicy != "from-the-environment" {
		t.Errorf("a variable without its flag reads %q", c.GatewayPolicy)
	}
	if c.Limits.Rate != 7 || c.OIDC.Issuer != "https://idp.example.com" || c.OIDC.Audience != "approvald" {
		t.Errorf("rate %v, OIDC %+v", c.Limits.Rate, c.OIDC)
	}

	// A flag given replaces its variable, even one that would not parse,
	// and even with an empty value (which is the default).
	env["APPROVALD_DB_MAX_CONNS"] = "many"
	env["APPROVALD_UI_BASE_URL"] = "https://from-the-environment.example"
	if c, err = parseConfig([]string{"--db-max-conns", "8", "--ui-base-url="}, envOf(env), io.Discard); err != nil {
		t.Fatal(err)
	}
	if c.DBMaxConns != 8 || c.UI.BaseURL != "" {
		t.Errorf("db-max-conns %d, UI base URL %q", c.DBMaxConns, c.UI.BaseURL)
	}
}

// TestConfig_Defaults: without flags or variables, every package gets the
// defaults the README lists.
func TestConfig_Defaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // no secret files
	c, err := parseConfig(nil, envOf(map[string]string{"SECRETS_MNT_PATH": dir}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	wantGateway := gateway.Config{
		MetadataHost: "metadata-container", MetadataPort: "8002",
		PublishHost: "publish-container", PublishPort: "8003",
		SecretsPath: dir, Timeout: time.Hour, ValidateTimeout: 2 * time.Minute, Approval: gateway.ApprovalOff,
	}
	if c.Gateway != wantGateway {
		t.Errorf("gateway %#v\nwant %#v", c.Gateway, wantGateway)
	}
	if ui := c.UI; !ui.Enabled || !ui.KeySignIn || ui.SessionKey != nil || ui.SessionTTL != web.DefaultSessionTTL || ui.BaseURL != "" || ui.OIDC.Enabled() {
		t.Errorf("web UI %+v", ui)
	}
	if c.Addr != ":8000" || c.Database != "sqlite:approvald.db" || c.DBMaxConns != 16 || !c.AllowPrivate || c.Workers != 64 || c.PerRule != 32 ||
		c.KeyCacheTTL != 5*time.Second || c.ShutdownTimeout != 20*time.Second || c.LogFormat != "auto" || c.Tracing != (tracingConfig{}) {
		t.Errorf("config %+v", c)
	}
	if c, err = parseConfig(nil, envOf(nil), io.Discard); err != nil || c.SecretsPath != "./secrets" || c.Gateway.SecretsPath != "./secrets" {
		t.Errorf("without SECRETS_MNT_PATH: secrets %q, err %v; want ./secrets", c.SecretsPath, err)
	}
}

// TestConfig_CR8TORVariablesAndSecretFiles: the gateway reads the CR8TOR
// service's variables and its keys from SECRETS_MNT_PATH, trimmed;
// APPROVALSERVICEAPIKEY replaces the file, and so do the UI's secrets'
// variables.
func TestConfig_CR8TORVariablesAndSecretFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		gateway.SecretApprovalKey: "  file-approval-key\n",
		gateway.SecretMetadataKey: "\tmeta-key \r\n",
		gateway.SecretPublishKey:  "pub-key\n\n",
		web.SessionKeyFile:        strings.Repeat("k", 40) + "\n",
		web.ClientSecretFile:      " from-file \n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"METADATA_CONTAINER_NAME": "meta.internal", "METADATA_CONTAINER_PORT": "9002",
		"PUBLISH_CONTAINER_NAME": " 10.0.0.7 ", "PUBLISH_CONTAINER_PORT": "9003",
		"SECRETS_MNT_PATH": dir, "APPROVALD_GATEWAY_TIMEOUT": "90m", "APPROVALD_GATEWAY_VALIDATE_TIMEOUT": "45s",
		"APPROVALD_GATEWAY_APPROVAL": "publish",
		"APPROVALD_OIDC_ISSUER":      "https://idp.example", "APPROVALD_OIDC_CLIENT_ID": "ui", "APPROVALD_OIDC_AUDIENCE": "approvald",
		"APPROVALD_UI_OIDC_SCOPES": "profile,groups", "APPROVALD_UI_BASE_URL": "https://approvals.example/",
	}
	c, err := parseConfig(nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := gateway.Config{
		MetadataHost: "meta.internal", MetadataPort: "9002", PublishHost: "10.0.0.7", PublishPort: "9003",
		SecretsPath: dir, APIKey: "file-approval-key", MetadataKey: "meta-key", PublishKey: "pub-key",
		Timeout: 90 * time.Minute, ValidateTimeout: 45 * time.Second, Approval: gateway.ApprovalPublish,
	}
	if c.Gateway != want {
		t.Errorf("got %#v\nwant %#v", c.Gateway, want) // redacted, but the comparison is not
	}
	if string(c.UI.SessionKey) != strings.Repeat("k", 40) || c.UI.OIDC.ClientSecret != "from-file" || c.UI.BaseURL != "https://approvals.example" {
		t.Errorf("web UI %+v", c.UI)
	}
	if got := strings.Join(c.UI.OIDC.Scopes, " "); got != "openid profile groups" {
		t.Errorf("scopes %q, want openid added", got)
	}

	env["APPROVALSERVICEAPIKEY"] = " env-key "
	env["APPROVALD_OIDC_CLIENT_SECRET"] = "from-env"
	env["APPROVALD_UI_SESSION_KEY"] = strings.Repeat("e", 32)
	if c, err = parseConfig(nil, envOf(env), io.Discard); err != nil {
		t.Fatal(err)
	}
	if c.Gateway.APIKey != "env-key" || c.UI.OIDC.ClientSecret != "from-env" || string(c.UI.SessionKey) != strings.Repeat("e", 32) {
		t.Errorf("the environment does not come first: key match %t, UI %+v", c.Gateway.APIKey == "env-key", c.UI)
	}

	// A secret file that exists but cannot be read (here: a folder) is an
	// error naming it; the UI's are read only when the UI is on.
	bad := t.TempDir()
	for _, name := range []string{gateway.SecretPublishKey, web.SessionKeyFile} {
		if err := os.Mkdir(filepath.Join(bad, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	_, err = parseConfig(nil, envOf(map[string]string{"SECRETS_MNT_PATH": bad}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), gateway.SecretPublishKey) || !strings.Contains(err.Error(), web.SessionKeyFile) {
		t.Errorf("unreadable secrets: err = %v", err)
	}
	_, err = parseConfig([]string{"--ui=false"}, envOf(map[string]string{"SECRETS_MNT_PATH": bad}), io.Discard)
	if err == nil || strings.Contains(err.Error(), web.SessionKeyFile) {
		t.Errorf("unreadable secrets, UI off: err = %v", err)
	}
}

// TestConfig_RefusesMalformedAndInvalidValues: a value that does not parse
// or is out of range stops approvald at start with an error naming the
// setting (its flag and variable) and what is wrong, never a secret.
func TestConfig_RefusesMalformedAndInvalidValues(t *testing.T) {
	t.Parallel()
	const secret = "S3cret-but-short"
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string // a part of the error
	}{
		"int":                  {nil, map[string]string{"APPROVALD_DB_MAX_CONNS": "abc"}, `--db-max-conns (APPROVALD_DB_MAX_CONNS): "abc" is not a whole number`},
		"int flag":             {[]string{"--delivery-workers", "lots"}, nil, `--delivery-workers (APPROVALD_DELIVERY_WORKERS): "lots" is not a whole number`},
		"negative count":       {nil, map[string]string{"APPROVALD_DELIVERY_WORKERS": "-4"}, `--delivery-workers (APPROVALD_DELIVERY_WORKERS): -4 is outside 1..1024`},
		"per rule":             {[]string{"--delivery-workers=8", "--delivery-per-rule=9"}, nil, `--delivery-per-rule (APPROVALD_DELIVERY_PER_RULE): 9 is outside 1..8`},
		"negative burst":       {nil, map[string]string{"APPROVALD_RATE_BURST": "-1"}, `--rate-burst (APPROVALD_RATE_BURST): -1 is below the minimum of 1`},
		"streams":              {nil, map[string]string{"APPROVALD_MAX_STREAMS": "1.5"}, `--max-streams (APPROVALD_MAX_STREAMS): "1.5" is not a whole number`},
		"bytes":                {nil, map[string]string{"APPROVALD_NATS_MAX_BYTES": "1GiB"}, `--nats-max-bytes (APPROVALD_NATS_MAX_BYTES): "1GiB" is not a whole number`},
		"rate":                 {nil, map[string]string{"APPROVALD_RATE_LIMIT": "fast"}, `--rate-limit (APPROVALD_RATE_LIMIT): "fast" is not a number`},
		"rate range":           {[]string{"--rate-limit=0"}, nil, `--rate-limit (APPROVALD_RATE_LIMIT): 0 is not a positive number`},
		"duration":             {nil, map[string]string{"APPROVALD_SHUTDOWN_TIMEOUT": "20"}, `--shutdown-timeout (APPROVALD_SHUTDOWN_TIMEOUT): "20" is not a duration`},
		"duration range":       {nil, map[string]string{"APPROVALD_KEY_CACHE_TTL": "-1s"}, `--key-cache-ttl (APPROVALD_KEY_CACHE_TTL): -1s is outside 0..1m`},
		"release licence":      {nil, map[string]string{"APPROVALD_RELEASE_LICENSE": "cc-by-4.0"}, `--release-license (APPROVALD_RELEASE_LICENSE): "cc-by-4.0" is not an absolute http(s) URL`},
		"lease":                {[]string{"--delivery-lease", "soon"}, nil, `--delivery-lease (APPROVALD_DELIVERY_LEASE): "soon" is not a duration`},
		"gateway timeout":      {nil, map[string]string{"APPROVALD_GATEWAY_TIMEOUT": "abc"}, `--gateway-timeout (APPROVALD_GATEWAY_TIMEOUT): "abc" is not a positive duration`},
		"gateway zero":         {[]string{"--gateway-validate-timeout", "0s"}, nil, `--gateway-validate-timeout (APPROVALD_GATEWAY_VALIDATE_TIMEOUT): "0s" is not a positive duration`},
		"gateway approval":     {nil, map[string]string{"APPROVALD_GATEWAY_APPROVAL": "yes"}, `--gateway-approval (APPROVALD_GATEWAY_APPROVAL): "yes" is not one of "off", "publish"`},
		"gateway port":         {nil, map[string]string{"PUBLISH_CONTAINER_PORT": "http"}, `PUBLISH_CONTAINER_PORT: "http" is not a port number (1-65535)`},
		"gateway port range":   {nil, map[string]string{"METADATA_CONTAINER_PORT": "70000"}, `METADATA_CONTAINER_PORT: "70000" is not a port number`},
		"gateway host":         {nil, map[string]string{"METADATA_CONTAINER_NAME": "user@host"}, `METADATA_CONTAINER_NAME: "user@host" is not a host name`},
		"bool":                 {nil, map[string]string{"APPROVALD_UI": "maybe"}, `--ui (APPROVALD_UI): "maybe" is not true or false`},
		"bool flag":            {[]string{"--allow-private-targets=sometimes"}, nil, `--allow-private-targets (APPROVALD_ALLOW_PRIVATE_TARGETS): "sometimes" is not true or false`},
		"ui ttl":               {nil, map[string]string{"APPROVALD_UI_SESSION_TTL": "forever"}, `--ui-session-ttl (APPROVALD_UI_SESSION_TTL): "forever" is not a positive duration`},
		"ui ttl range":         {[]string{"--ui-session-ttl=30s"}, nil, `--ui-session-ttl (APPROVALD_UI_SESSION_TTL): 30s is not a duration from 1m`},
		"ui base URL":          {nil, map[string]string{"APPROVALD_UI_BASE_URL": "approvals.example/ui"}, `--ui-base-url (APPROVALD_UI_BASE_URL): "approvals.example/ui" is not http(s)://host[:port]`},
		"ui session key":       {nil, map[string]string{"APPROVALD_UI_SESSION_KEY": secret}, `APPROVALD_UI_SESSION_KEY (or the secret file approvald-ui-session-key): must be at least 32 characters`},
		"ui without sign-in":   {[]string{"--ui-key-signin=off"}, nil, `--ui-key-signin (APPROVALD_UI_KEY_SIGNIN): false needs an OIDC client id: otherwise nobody can sign in`},
		"ui issuer":            {[]string{"--oidc-client-id", "ui"}, nil, `--oidc-issuer (APPROVALD_OIDC_ISSUER): is needed with an OIDC client id`},
		"log level":            {nil, map[string]string{"APPROVALD_LOG_LEVEL": "loud"}, `--log-level (APPROVALD_LOG_LEVEL): "loud" is not one of debug, info, warn, error`},
		"log format":           {[]string{"--log-format", "xml"}, nil, `--log-format (APPROVALD_LOG_FORMAT): "xml" is not json, text or auto`},
		"group scopes":         {nil, map[string]string{"APPROVALD_OIDC_GROUP_SCOPES": "approvers=approvals:review;auditors"}, `--oidc-group-scopes (APPROVALD_OIDC_GROUP_SCOPES): "approvers=approvals:review;auditors" has "auditors", which is not group=scope`},
		"audience":             {[]string{"--oidc-issuer", "https://idp.example"}, nil, `--oidc-audience (APPROVALD_OIDC_AUDIENCE): is required`},
		"cors":                 {nil, map[string]string{"APPROVALD_CORS_ORIGINS": "ui.example.com"}, `--cors-origins (APPROVALD_CORS_ORIGINS): `},
		"span delay":           {nil, map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "5s"}, `OTEL_BSP_SCHEDULE_DELAY: "5s" is not a positive whole number of milliseconds`},
		"negative span delay":  {nil, map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "-5"}, `OTEL_BSP_SCHEDULE_DELAY: "-5" is not a positive whole number of milliseconds`},
		"NATS URL is redacted": {nil, map[string]string{"APPROVALD_NATS_URL": "nats://" + secret + "@nats:4222", "APPROVALD_NATS_MAX_AGE": "1s"}, `--nats-max-age (APPROVALD_NATS_MAX_AGE): 1s is below the minimum of 1m`},
	} {
		env := map[string]string{"SECRETS_MNT_PATH": t.TempDir()}
		maps.Copy(env, tc.env)
		_, err := parseConfig(tc.args, envOf(env), io.Discard)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", name)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error\n%v\nwant one with\n%s", name, err, tc.want)
		case strings.Contains(err.Error(), secret):
			t.Errorf("%s: the error shows a secret: %v", name, err)
		}
	}

	// Every malformed value is reported at once.
	_, err := parseConfig(nil, envOf(map[string]string{"APPROVALD_DB_MAX_CONNS": "x", "APPROVALD_UI": "x", "PUBLISH_CONTAINER_PORT": "x"}), io.Discard)
	for _, want := range []string{"APPROVALD_DB_MAX_CONNS", "APPROVALD_UI", "PUBLISH_CONTAINER_PORT"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
}

// TestRun_MalformedSettingStopsTheStart: run returns the parser's error
// before it listens or opens the database.
func TestRun_MalformedSettingStopsTheStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, map[string]string{"APPROVALD_GATEWAY_TIMEOUT": "abc"}, `--gateway-timeout (APPROVALD_GATEWAY_TIMEOUT): "abc" is not a positive duration`},
		{[]string{"--db-max-conns", "-3"}, nil, `--db-max-conns (APPROVALD_DB_MAX_CONNS): -3 is outside 1..1000`},
		{nil, map[string]string{"APPROVALD_UI_KEY_SIGNIN": "nope"}, `--ui-key-signin (APPROVALD_UI_KEY_SIGNIN): "nope" is not true or false`},
	} {
		env := map[string]string{"APPROVALD_DATABASE": "sqlite:" + filepath.Join(dir, "never.db"), "SECRETS_MNT_PATH": dir}
		maps.Copy(env, tc.env)
		err, _ := runFails(t, tc.args, env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: run returned %v, want an error with %s", tc.args, tc.env, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "never.db")); err == nil {
		t.Error("run opened the database with an invalid configuration")
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
