package web

import (
	"errors"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

func TestConfig_ValidateAcceptsTheDefaultsAndATurnedOffUI(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{Enabled: true, KeySignIn: true},
		{Enabled: true, KeySignIn: true, SessionTTL: DefaultSessionTTL, SessionKey: []byte(strings.Repeat("k", MinSessionKeyLen)), BaseURL: "https://approvals.example"},
		{Enabled: true, SessionTTL: time.Minute, OIDC: OIDCConfig{Issuer: "https://idp.example", ClientID: "ui", Scopes: []string{"openid"}}},
		{Enabled: true, KeySignIn: true, SessionTTL: MaxSessionTTL, BaseURL: "http://127.0.0.1:8000/"},
		{Enabled: true, KeySignIn: true, LinkReauthAge: MinLinkReauthAge},
		{Enabled: true, KeySignIn: true, LinkReauthAge: MaxLinkReauthAge},
		{Enabled: false, SessionKey: []byte("short"), SessionTTL: time.Second},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestConfig_ValidateNamesEachInvalidField(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-short"
	err := Config{
		Enabled:    true,
		SessionKey: []byte(secret),
		SessionTTL: 30 * time.Second,
		BaseURL:    "approvals.example/ui",
		OIDC:       OIDCConfig{ClientID: "ui", ClientSecret: "s3cret-client"},
	}.Validate()
	var e *approval.Error
	if !errors.As(err, &e) || e.Kind != approval.KindInvalid {
		t.Fatalf("Validate() = %v, want a KindInvalid *approval.Error", err)
	}
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	if got, want := strings.Join(fields, " "), "SessionKey SessionTTL BaseURL OIDC.Issuer"; got != want {
		t.Errorf("fields %s, want %s", got, want)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error shows a secret: %v", err)
	}

	for name, tc := range map[string]struct {
		cfg   Config
		field string
	}{
		"ttl above the maximum":  {Config{Enabled: true, KeySignIn: true, SessionTTL: MaxSessionTTL + time.Hour}, "SessionTTL"},
		"negative ttl":           {Config{Enabled: true, KeySignIn: true, SessionTTL: -time.Hour}, "SessionTTL"},
		"base URL with a path":   {Config{Enabled: true, KeySignIn: true, BaseURL: "https://approvals.example/ui"}, "BaseURL"},
		"base URL with userinfo": {Config{Enabled: true, KeySignIn: true, BaseURL: "https://user@approvals.example"}, "BaseURL"},
		"nobody can sign in":     {Config{Enabled: true}, "KeySignIn"},
		"link re-auth too short": {Config{Enabled: true, KeySignIn: true, LinkReauthAge: 30 * time.Second}, "LinkReauthAge"},
		"link re-auth too long":  {Config{Enabled: true, KeySignIn: true, LinkReauthAge: MaxLinkReauthAge + time.Minute}, "LinkReauthAge"},
	} {
		err := tc.cfg.Validate()
		if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
			t.Errorf("%s: Validate() = %v, want an error naming only %s", name, err, tc.field)
		}
	}
	if err := (Config{Enabled: true}).Validate(); err == nil || !strings.Contains(err.Error(), "nobody can sign in") {
		t.Errorf("no way to sign in: %v", err)
	}
}
