package gateway

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envOf returns a getenv over vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestConfigFromEnv_Defaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // no secret files
	c, err := ConfigFromEnv(envOf(map[string]string{"SECRETS_MNT_PATH": dir}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		MetadataHost: "metadata-container", MetadataPort: "8002",
		PublishHost: "publish-container", PublishPort: "8003",
		SecretsPath: dir, Timeout: time.Hour, ValidateTimeout: 2 * time.Minute, Approval: ApprovalOff,
	}
	if c != want {
		t.Errorf("got %#v\nwant %#v", c, want)
	}
	if c, err = ConfigFromEnv(envOf(nil)); err != nil || c.SecretsPath != "./secrets" {
		t.Errorf("without SECRETS_MNT_PATH: secrets %q, err %v; want ./secrets", c.SecretsPath, err)
	}
	g := New(Config{}, Deps{})
	if g.publish.base != "http://publish-container:8003/" || g.metadata.base != "http://metadata-container:8002/" {
		t.Errorf("New with the zero Config: publish %s, metadata %s", g.publish.base, g.metadata.base)
	}
}

func TestConfigFromEnv_Overrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"approvalserviceapikey": "  file-approval-key\n",
		"metadataserviceapikey": "\tmeta-key \r\n",
		"publishserviceapikey":  "pub-key\n\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"METADATA_CONTAINER_NAME": "meta.internal", "METADATA_CONTAINER_PORT": "9002",
		"PUBLISH_CONTAINER_NAME": "10.0.0.7", "PUBLISH_CONTAINER_PORT": "9003",
		"SECRETS_MNT_PATH": dir, "APPROVALD_GATEWAY_TIMEOUT": "90m", "APPROVALD_GATEWAY_VALIDATE_TIMEOUT": "45s",
		"APPROVALD_GATEWAY_APPROVAL": "publish",
	}
	c, err := ConfigFromEnv(envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		MetadataHost: "meta.internal", MetadataPort: "9002", PublishHost: "10.0.0.7", PublishPort: "9003",
		SecretsPath: dir, APIKey: "file-approval-key", MetadataKey: "meta-key", PublishKey: "pub-key",
		Timeout: 90 * time.Minute, ValidateTimeout: 45 * time.Second, Approval: ApprovalPublish,
	}
	if c != want {
		t.Errorf("got %#v\nwant %#v", c, want) // redacted, but the comparison is not
	}

	// APPROVALSERVICEAPIKEY overrides the file.
	env["APPROVALSERVICEAPIKEY"] = " env-key "
	if c, err = ConfigFromEnv(envOf(env)); err != nil || c.APIKey != "env-key" {
		t.Errorf("with APPROVALSERVICEAPIKEY: key match %v, err %v", c.APIKey == "env-key", err)
	}
}

func TestConfigFromEnv_RefusesInvalidValues(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ key, value string }{
		"port":          {"PUBLISH_CONTAINER_PORT", "http"},
		"port range":    {"METADATA_CONTAINER_PORT", "70000"},
		"host":          {"PUBLISH_CONTAINER_NAME", "publish/evil"},
		"host userinfo": {"METADATA_CONTAINER_NAME", "user@host"},
		"timeout":       {"APPROVALD_GATEWAY_TIMEOUT", "3600"},
		"negative":      {"APPROVALD_GATEWAY_VALIDATE_TIMEOUT", "-1m"},
		"approval":      {"APPROVALD_GATEWAY_APPROVAL", "yes"},
	} {
		_, err := ConfigFromEnv(envOf(map[string]string{tc.key: tc.value, "SECRETS_MNT_PATH": t.TempDir()}))
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %s=%q: err = %v, want one naming %s", name, tc.key, tc.value, err, tc.key)
		}
	}
	// A secret that exists but cannot be read (here: a folder) is an error.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "publishserviceapikey"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ConfigFromEnv(envOf(map[string]string{"SECRETS_MNT_PATH": dir})); err == nil || !strings.Contains(err.Error(), "publishserviceapikey") {
		t.Errorf("unreadable secret: err = %v", err)
	}
}

func TestConfig_NeverShowsTheKeys(t *testing.T) {
	t.Parallel()
	c := Config{APIKey: "s3cret-approval", MetadataKey: "s3cret-metadata", PublishKey: "s3cret-publish", SecretsPath: "/run/secrets"}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
		out = append(out, fmt.Sprintf(verb, c), fmt.Sprintf(verb, c.APIKey), fmt.Sprintf(verb, &c))
	}
	out = append(out, c.String())
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&logs, nil), slog.NewTextHandler(&logs, nil)} {
		slog.New(h).Info("config", "gateway", c, "key", c.PublishKey)
	}
	out = append(out, logs.String())
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	for _, s := range out {
		if strings.Contains(s, "s3cret") || strings.Contains(s, hex.EncodeToString([]byte("s3cret"))) {
			t.Errorf("a key is shown: %s", s)
		}
	}
	if s := c.String(); !strings.Contains(s, "api_key=[redacted]") || !strings.Contains(s, "http://publish-container:8003/") {
		t.Errorf("String() = %s", s)
	}
	if s := (Config{}).String(); !strings.Contains(s, "api_key=[unset]") {
		t.Errorf("String() of the zero Config = %s, want api_key=[unset]", s)
	}
}
