package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestConfig_JWTIssuerFromFlagOrEnvironment(t *testing.T) {
	t.Parallel()
	const iss = "https://idp.example.com"
	keyFile := map[string]string{"APPROVALD_JWT_HS256_SECRET_FILE": "/run/secrets/jwt", "APPROVALD_OIDC_AUDIENCE": "approvald"}
	env := func(extra ...string) func(string) string {
		m := map[string]string{}
		for k, v := range keyFile {
			m[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for name, tc := range map[string]struct {
		args   []string
		getenv func(string) string
		want   string // the issuer, or the start of the error
		fails  bool
	}{
		"flag":                         {[]string{"--jwt-issuer", iss}, env(), iss, false},
		"environment":                  {nil, env("APPROVALD_JWT_ISSUER", iss), iss, false},
		"flag over environment":        {[]string{"--jwt-issuer", iss}, env("APPROVALD_JWT_ISSUER", "https://other"), iss, false},
		"APPROVALD_OIDC_ISSUER agrees": {[]string{"--jwt-issuer", iss}, env("APPROVALD_OIDC_ISSUER", iss), iss, false},
		"none":                         {nil, env(), "", false},
		"APPROVALD_OIDC_ISSUER differs": {[]string{"--jwt-issuer", iss}, env("APPROVALD_OIDC_ISSUER", "https://other"),
			"--jwt-issuer", true},
		"without a key file": {[]string{"--jwt-issuer", iss}, func(k string) string {
			return map[string]string{"APPROVALD_OIDC_AUDIENCE": "approvald"}[k]
		}, "--jwt-issuer", true},
	} {
		c, err := parseConfig(tc.args, tc.getenv, io.Discard)
		switch {
		case tc.fails && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one starting %q", name, err, tc.want)
		case !tc.fails && err != nil:
			t.Errorf("%s: %v", name, err)
		case !tc.fails && c.OIDC.Issuer != tc.want:
			t.Errorf("%s: issuer %q, want %q", name, c.OIDC.Issuer, tc.want)
		}
	}
}

// TestHelp_MatchesTheREADMEConfigurationTable: every flag --help lists has
// a row in the README's configuration table with the environment variable
// --help names for it, and every flag in the table exists.
func TestHelp_MatchesTheREADMEConfigurationTable(t *testing.T) {
	t.Parallel()
	var help bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, func(string) string { return "" }, &help); err == nil {
		t.Fatal("--help did not stop parsing")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // flag → env, from the README
	row := regexp.MustCompile("^\\| `--([a-z0-9-]+)` \\| `([A-Z0-9_]+)` \\|")
	for line := range strings.Lines(string(readme)) {
		if m := row.FindStringSubmatch(line); m != nil {
			rows[m[1]] = m[2]
		}
	}
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)`)
	envName := regexp.MustCompile(`\((APPROVALD_[A-Z0-9_]+)\)`)
	var name string
	seen := map[string]bool{}
	sc := bufio.NewScanner(&help)
	for sc.Scan() {
		if m := flagLine.FindStringSubmatch(sc.Text()); m != nil {
			name = m[1]
			seen[name] = true
			if _, ok := rows[name]; !ok {
				t.Errorf("--%s is in --help but not in the README's configuration table", name)
			}
		}
		if m := envName.FindStringSubmatch(sc.Text()); m != nil && name != "" && rows[name] != "" && rows[name] != m[1] {
			t.Errorf("--%s: --help names %s, the README %s", name, m[1], rows[name])
		}
	}
	for f := range rows {
		if !seen[f] {
			t.Errorf("the README lists --%s, which --help does not", f)
		}
	}
	if !seen["jwt-issuer"] {
		t.Error("--help lacks --jwt-issuer")
	}
}

// TestRun_JWTIssuerAndAudienceInStaticKeyModes starts approvald in each
// static-key mode with an issuer and sends it tokens: only a token with
// exactly the configured iss and aud gets in; the others are 401.
func TestRun_JWTIssuerAndAudienceInStaticKeyModes(t *testing.T) {
	t.Parallel()
	const iss, aud = "https://idp.example.com", "approvald"
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubFile, secretFile := filepath.Join(dir, "jwt.pem"), filepath.Join(dir, "jwt-secret")
	hsSecret := []byte("an HS256 secret of at least thirty-two bytes")
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, hsSecret, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name, fileVar, file string
		key                 jose.SigningKey
	}{
		{"public key", "APPROVALD_JWT_PUBLIC_KEY_FILE", pubFile, jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey}},
		{"HS256", "APPROVALD_JWT_HS256_SECRET_FILE", secretFile, jose.SigningKey{Algorithm: jose.HS256, Key: hsSecret}},
	} {
		base, _, _ := startServerLogs(t, map[string]string{
			mode.fileVar: mode.file, "APPROVALD_JWT_ISSUER": iss, "APPROVALD_OIDC_AUDIENCE": aud,
		})
		signer, err := jose.NewSigner(mode.key, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		status := func(claims map[string]any) int {
			claims["sub"], claims["scope"] = "alice", "approvals:read"
			claims["exp"] = time.Now().Add(time.Hour).Unix()
			tok, err := jwt.Signed(signer).Claims(claims).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", base+"/v1/approvals", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for name, tc := range map[string]struct {
			claims map[string]any
			want   int
		}{
			"right iss and aud": {map[string]any{"iss": iss, "aud": aud}, 200},
			"wrong iss":         {map[string]any{"iss": "https://evil", "aud": aud}, 401},
			"missing iss":       {map[string]any{"aud": aud}, 401},
			"wrong aud":         {map[string]any{"iss": iss, "aud": "other"}, 401},
			"missing aud":       {map[string]any{"iss": iss}, 401},
		} {
			if got := status(tc.claims); got != tc.want {
				t.Errorf("%s, %s: %d, want %d", mode.name, name, got, tc.want)
			}
		}
	}
}
