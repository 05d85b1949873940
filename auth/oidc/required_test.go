package oidc

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestIssuerAndAudienceAreRequiredInEveryMode: in discovery, static-key and
// HS256 mode alike, with an issuer configured a token must carry exactly
// that iss, and it must carry the configured audience in aud; a token
// without either claim is refused like one with the wrong value.
func TestIssuerAndAudienceAreRequiredInEveryMode(t *testing.T) {
	clk := newClock()
	k := rsaKey(0, "k1")
	hsSecret := []byte("0123456789abcdef0123456789abcdef-and-more")
	hsPath := filepath.Join(t.TempDir(), "hs256")
	if err := os.WriteFile(hsPath, hsSecret, 0o600); err != nil {
		t.Fatal(err)
	}
	is := newIssuer(t, k)
	const staticIss = "https://idp.example.com"
	modes := []struct {
		name string
		cfg  Config
		iss  string
		sign func(t testing.TB, claims map[string]any) string
	}{
		{"discovery", Config{Issuer: is.URL()}, is.URL(), func(t testing.TB, c map[string]any) string { return sign(t, k, c) }},
		{"public key", Config{Issuer: staticIss, PublicKeyFile: writePEM(t, k.priv.Public(), "PUBLIC KEY")}, staticIss,
			func(t testing.TB, c map[string]any) string { return sign(t, k, c) }},
		{"HS256", Config{Issuer: staticIss, HS256SecretFile: hsPath}, staticIss,
			func(t testing.TB, c map[string]any) string { return signHS256(t, hsSecret, "", c) }},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			cfg := m.cfg
			cfg.Audience, cfg.Now = testAudience, clk.Now
			v := newVerifier(t, cfg)
			base := claimsAt(m.iss, clk.Now())
			if _, err := v.Verify(context.Background(), m.sign(t, base)); err != nil {
				t.Fatalf("a valid token is refused: %s", Reason(err))
			}
			for name, claims := range map[string]map[string]any{
				"wrong iss":             with(base, "iss", "https://evil.example"),
				"iss with a slash more": with(base, "iss", m.iss+"/"),
				"empty iss":             with(base, "iss", ""),
				"missing iss":           with(base, "iss", nil),
				"iss not a string":      with(base, "iss", 7),
				"wrong aud":             with(base, "aud", "another-service"),
				"aud list without ours": with(base, "aud", []string{"a", "b"}),
				"empty aud":             with(base, "aud", ""),
				"missing aud":           with(base, "aud", nil),
			} {
				t.Run(name, func(t *testing.T) {
					token := m.sign(t, claims)
					_, err := v.Verify(context.Background(), token)
					checkRefused(t, err, token, msgInvalid)
				})
			}
		})
	}
}
