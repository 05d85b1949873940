package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv_Defaults(t *testing.T) {
	t.Parallel()
	c, err := ConfigFromEnv(envOf(map[string]string{"SECRETS_MNT_PATH": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || !c.KeySignIn || c.SessionKey != nil || c.SessionTTL != DefaultSessionTTL || c.BaseURL != "" || c.OIDC.Enabled() {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigFromEnv_ReadsSecretsFromFilesAndTheEnvironmentFirst(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := strings.Repeat("k", 40)
	if err := os.WriteFile(filepath.Join(dir, SessionKeyFile), []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ClientSecretFile), []byte(" from-file \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ConfigFromEnv(envOf(map[string]string{
		"SECRETS_MNT_PATH": dir, "APPROVALD_OIDC_ISSUER": "https://idp.example", "APPROVALD_OIDC_CLIENT_ID": "ui",
		"APPROVALD_UI_OIDC_SCOPES": "profile,groups", "APPROVALD_UI_SESSION_TTL": "30m", "APPROVALD_UI_BASE_URL": "https://approvals.example/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.SessionKey) != key || c.OIDC.ClientSecret != "from-file" || c.SessionTTL != 30*time.Minute || c.BaseURL != "https://approvals.example" {
		t.Errorf("config %+v", c)
	}
	if got := strings.Join(c.OIDC.Scopes, " "); got != "openid profile groups" {
		t.Errorf("scopes %q, want openid added", got)
	}
	c, err = ConfigFromEnv(envOf(map[string]string{"SECRETS_MNT_PATH": dir, "APPROVALD_OIDC_CLIENT_SECRET": "from-env", "APPROVALD_UI_SESSION_KEY": strings.Repeat("e", 32)}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.ClientSecret != "from-env" || string(c.SessionKey) != strings.Repeat("e", 32) {
		t.Errorf("the environment does not come first: %+v", c)
	}
}

func TestConfigFromEnv_NamesEachInvalidVariable(t *testing.T) {
	t.Parallel()
	_, err := ConfigFromEnv(envOf(map[string]string{
		"SECRETS_MNT_PATH":         t.TempDir(),
		"APPROVALD_UI_SESSION_KEY": "short",
		"APPROVALD_UI_SESSION_TTL": "forever",
		"APPROVALD_UI_BASE_URL":    "approvals.example/ui",
		"APPROVALD_UI_KEY_SIGNIN":  "maybe",
		"APPROVALD_OIDC_CLIENT_ID": "ui",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"APPROVALD_UI_SESSION_KEY", "APPROVALD_UI_SESSION_TTL", "APPROVALD_UI_BASE_URL", "APPROVALD_UI_KEY_SIGNIN", "APPROVALD_OIDC_ISSUER"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s: %v", want, err)
		}
	}
	_, err = ConfigFromEnv(envOf(map[string]string{"SECRETS_MNT_PATH": t.TempDir(), "APPROVALD_UI_KEY_SIGNIN": "false"}))
	if err == nil || !strings.Contains(err.Error(), "nobody can sign in") {
		t.Errorf("no way to sign in: %v", err)
	}
	c, err := ConfigFromEnv(envOf(map[string]string{"SECRETS_MNT_PATH": t.TempDir(), "APPROVALD_UI": "false", "APPROVALD_UI_SESSION_KEY": "short"}))
	if err != nil || c.Enabled {
		t.Errorf("a turned-off UI: %+v, %v", c, err)
	}
}
