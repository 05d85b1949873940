package oidc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"approvald/approval"
)

// FuzzVerify feeds arbitrary strings to verifiers of every mode: Verify must
// not panic, must refuse with an unauthenticated error, and must never repeat
// the input in its reason.
func FuzzVerify(f *testing.F) {
	clk := newClock()
	k1 := rsaKey(0, "k1")
	is := newIssuer(f, k1)
	const iss = "https://idp.example.com"
	secret := []byte("fuzzing-secret-fuzzing-secret-fuzzing")
	secretFile := filepath.Join(f.TempDir(), "secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		f.Fatal(err)
	}
	verifiers := []*Verifier{
		newVerifier(f, Config{Issuer: is.URL(), Audience: testAudience, Now: clk.Now}),
		newVerifier(f, Config{Issuer: iss, Audience: testAudience, PublicKeyFile: writePEM(f, k1.priv.Public(), "PUBLIC KEY"), Now: clk.Now}),
		newVerifier(f, Config{Issuer: iss, Audience: testAudience, HS256SecretFile: secretFile, Now: clk.Now}),
	}

	good := with(claimsAt(iss, clk.Now()), "groups", []string{"a", "b"}, "scope", "admin")
	f.Add(sign(f, k1, with(good, "iss", is.URL())))
	f.Add(sign(f, k1, good))
	f.Add(signHS256(f, secret, "", good))
	f.Add(unsigned(f, good))
	f.Add(signHS256(f, []byte("the public key as a secret, say, 32+ bytes"), "k1", good))
	f.Add("")
	f.Add("apd_abcdefghijklmnopqrstuvwxyz")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJIUzI1NiJ9.bnVsbA.AAAA")
	f.Add(strings.Repeat(".", 100))

	f.Fuzz(func(t *testing.T, raw string) {
		for _, v := range verifiers {
			p, err := v.Verify(context.Background(), raw)
			if err == nil {
				if !strings.HasPrefix(p.ID, "user:") {
					t.Fatalf("principal %q without the user: prefix", p.ID)
				}
				continue
			}
			var e *approval.Error
			if !errors.As(err, &e) || e.Kind != approval.KindUnauthenticated || e.Code != approval.CodeUnauthenticated {
				t.Fatalf("error %#v is not an unauthenticated *approval.Error", err)
			}
			if len(raw) >= 8 && LooksLikeJWT(raw) && (strings.Contains(Reason(err), raw) || strings.Contains(err.Error(), raw)) {
				t.Fatalf("error %q repeats the token", err)
			}
		}
	})
}

// FuzzLooksLikeJWT checks that LooksLikeJWT never panics and accepts only
// three dot-separated parts, never an API key.
func FuzzLooksLikeJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("apd_eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
	f.Add("..")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if !LooksLikeJWT(s) {
			return
		}
		if strings.Count(s, ".") != 2 || strings.HasPrefix(s, "apd_") {
			t.Fatalf("LooksLikeJWT(%q) = true", s)
		}
		parts := strings.Split(s, ".")
		if parts[0] == "" || parts[1] == "" {
			t.Fatalf("LooksLikeJWT(%q) = true with an empty header or payload", s)
		}
	})
}
