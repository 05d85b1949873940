package gateway

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// mustNew returns New(cfg, d), failing tb on an error.
func mustNew(tb testing.TB, cfg Config, d Deps) *Gateway {
	tb.Helper()
	g, err := New(cfg, d)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func TestNew_ZeroConfigTakesTheDefaults(t *testing.T) {
	t.Parallel()
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("the zero Config: %v", err)
	}
	g := mustNew(t, Config{}, Deps{})
	if g.publish.base != "http://publish-container:8003/" || g.metadata.base != "http://metadata-container:8002/" {
		t.Errorf("New with the zero Config: publish %s, metadata %s", g.publish.base, g.metadata.base)
	}
	if g.cfg.Timeout != DefaultTimeout || g.cfg.ValidateTimeout != DefaultValidateTimeout || g.cfg.Approval != ApprovalOff {
		t.Errorf("New with the zero Config: timeouts %s and %s, approval %q", g.cfg.Timeout, g.cfg.ValidateTimeout, g.cfg.Approval)
	}
}

func TestConfig_ValidateNamesEachInvalidField(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		cfg   Config
		field string
	}{
		"port":          {Config{PublishPort: "http"}, "PublishPort"},
		"port range":    {Config{MetadataPort: "70000"}, "MetadataPort"},
		"port zero":     {Config{MetadataPort: "0"}, "MetadataPort"},
		"host":          {Config{PublishHost: "publish/evil"}, "PublishHost"},
		"host userinfo": {Config{MetadataHost: "user@host"}, "MetadataHost"},
		"host space":    {Config{MetadataHost: "meta data"}, "MetadataHost"},
		"timeout":       {Config{Timeout: -time.Second}, "Timeout"},
		"negative":      {Config{ValidateTimeout: -time.Minute}, "ValidateTimeout"},
		"approval":      {Config{Approval: "yes"}, "Approval"},
	} {
		err := tc.cfg.Validate()
		var e *approval.Error
		if !errors.As(err, &e) || e.Kind != approval.KindInvalid || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
			t.Errorf("%s: Validate() = %v, want a KindInvalid error naming only %s", name, err, tc.field)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: the message does not name %s: %v", name, tc.field, err)
		}
		if g, err := New(tc.cfg, Deps{}); g != nil || err == nil {
			t.Errorf("%s: New accepted the configuration", name)
		}
	}
	err := Config{PublishPort: "x", MetadataHost: "a/b", APIKey: "s3cret-key"}.Validate()
	var e *approval.Error
	if !errors.As(err, &e) || len(e.Fields) != 2 {
		t.Fatalf("two invalid fields: %v", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows a key: %v", err)
	}
	for _, ok := range []Config{
		{MetadataHost: "meta.internal", MetadataPort: "9002", PublishHost: "10.0.0.7", PublishPort: "65535"},
		{PublishHost: "::1", Timeout: time.Minute, ValidateTimeout: time.Second, Approval: ApprovalPublish},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
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
