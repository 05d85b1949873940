package receipt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// pemPrivate and pemPublic encode a key as the PEM blocks ParseKeys reads.
func pemPrivate(t testing.TB, k crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func pemPublic(t testing.TB, k crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestThumbprint_IsRFC7638(t *testing.T) {
	t.Parallel()
	pub := key(1).Public().(ed25519.PublicKey)
	want, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got := Thumbprint(pub); got != strings.TrimRight(b64url(want), "=") {
		t.Errorf("Thumbprint = %s, go-jose says %s", got, b64url(want))
	}
	// RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
	x, _ := b64urlDecode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if got := Thumbprint(x); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Errorf("the RFC 8037 example's thumbprint is %s, want kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", got)
	}
}

func TestParseKeys_FirstPrivateKeySignsEveryKeyVerifies(t *testing.T) {
	t.Parallel()
	newKey, oldKey, older := key(2), key(1), key(3)
	text := pemPrivate(t, newKey) + "\n" + pemPublic(t, oldKey.Public()) + pemPrivate(t, older) + pemPublic(t, newKey.Public())
	s, ks, err := ParseKeys([]byte(text))
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	newID := Thumbprint(newKey.Public().(ed25519.PublicKey))
	if s.PublicKey().ID != newID || !s.PublicKey().Key.Equal(newKey.Public()) {
		t.Errorf("the signer is %s, want the first private key %s", s.PublicKey().ID, newID)
	}
	var ids []string
	for _, k := range ks.Keys() {
		ids = append(ids, k.ID)
	}
	want := []string{newID, Thumbprint(oldKey.Public().(ed25519.PublicKey)), Thumbprint(older.Public().(ed25519.PublicKey))}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("key ids %v, want %v (the signer first, each key once)", ids, want)
	}

	// The envelope's keyid is the JWKS kid.
	env, err := s.Sign(mustBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := ks.JWKS()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	if got := set.Key(env.Signatures[0].KeyID); len(got) != 1 || !got[0].Key.(ed25519.PublicKey).Equal(newKey.Public()) {
		t.Errorf("the JWKS has no kid %q with the signer's key", env.Signatures[0].KeyID)
	}
	fromJWKS, err := ParseJWKS(jwks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromJWKS.Verify(env); err != nil {
		t.Errorf("Verify with the published JWKS: %v", err)
	}
}

func TestParseKeys_RotationKeepsOldReceiptsValid(t *testing.T) {
	t.Parallel()
	oldSigner, _, err := ParseKeys([]byte(pemPrivate(t, key(1))))
	if err != nil {
		t.Fatal(err)
	}
	oldEnv, err := oldSigner.Sign(mustBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	// Rotated: a new private key signs, the old one is kept as a public key.
	newSigner, ks, err := ParseKeys([]byte(pemPrivate(t, key(2)) + pemPublic(t, key(1).Public())))
	if err != nil {
		t.Fatal(err)
	}
	if newSigner.PublicKey().ID == oldSigner.PublicKey().ID {
		t.Fatal("the rotated key set still signs with the old key")
	}
	if _, err := ks.Verify(oldEnv); err != nil {
		t.Errorf("a receipt of the old key after the rotation: %v", err)
	}
	newEnv, _ := newSigner.Sign(mustBuild(t))
	if _, err := ks.Verify(newEnv); err != nil {
		t.Errorf("a receipt of the new key: %v", err)
	}
	// Without the old public key, the old receipt names an unknown key.
	_, onlyNew, _ := ParseKeys([]byte(pemPrivate(t, key(2))))
	if _, err := onlyNew.Verify(oldEnv); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("the old receipt without the old key: %v, want ErrUnknownKey", err)
	}
}

func TestParseKeys_Errors(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed := pemPrivate(t, key(1))
	lines := strings.Split(ed, "\n")
	corrupt := lines[0] + "\n" + lines[1][:20] + "\n" + lines[len(lines)-2] + "\n" // the key cut short
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "no PEM block"},
		{"blank", " \n\t\n", "no PEM block"},
		{"not PEM", "ed25519:abcdef", "not PEM"},
		{"only a public key", pemPublic(t, key(1).Public()), "no PRIVATE KEY block"},
		{"an RSA private key", ed + pemPrivate(t, rsaKey), "block 2 (PRIVATE KEY): an RSA key, not Ed25519"},
		{"an ECDSA public key", ed + pemPublic(t, ecKey.Public()), "block 2 (PUBLIC KEY): an ECDSA key, not Ed25519"},
		{"an X25519 key", pemPrivate(t, mustX25519(t)), "block 1 (PRIVATE KEY): an X25519 (ECDH) key, not Ed25519"},
		{"a certificate", ed + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", `block 2 is "CERTIFICATE"`},
		{"an OpenSSH key", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n", `block 1 is "OPENSSH PRIVATE KEY"`},
		{"a corrupt key", corrupt, "block 1 (PRIVATE KEY): not a PKCS#8 private key"},
		{"a corrupt public key", ed + "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "block 2 (PUBLIC KEY): not a PKIX public key"},
		{"an encrypted key", "-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END PRIVATE KEY-----\n", "block 1 (PRIVATE KEY): has PEM headers"},
		{"text after the keys", ed + "and then some", "the text after PEM block 1 is not a PEM block"},
	} {
		_, _, err := ParseKeys([]byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
			continue
		}
		// No key material in the message: no line of any block's base64.
		for line := range strings.Lines(tc.text) {
			line = strings.TrimSpace(line)
			if len(line) >= 8 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
				t.Errorf("%s: the error shows key material: %v", tc.name, err)
			}
		}
	}
}

func TestParsePublicKeys_NeedsNoPrivateKey(t *testing.T) {
	t.Parallel()
	ks, err := ParsePublicKeys([]byte(pemPublic(t, key(1).Public()) + pemPrivate(t, key(2))))
	if err != nil {
		t.Fatal(err)
	}
	if got := ks.Keys(); len(got) != 2 || got[1].ID != Thumbprint(key(1).Public().(ed25519.PublicKey)) || !got[0].Key.Equal(key(2).Public()) {
		t.Errorf("keys %+v", got)
	}
	if _, err := ParsePublicKeys([]byte("nothing")); err == nil {
		t.Error("ParsePublicKeys of no PEM succeeds")
	}
}

func TestGenerateSigner_NamesItsKeyByThumbprint(t *testing.T) {
	t.Parallel()
	a, err := GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateSigner()
	if a.PublicKey().ID != Thumbprint(a.PublicKey().Key) || a.PublicKey().ID == b.PublicKey().ID {
		t.Errorf("ids %s and %s", a.PublicKey().ID, b.PublicKey().ID)
	}
}

func mustBuild(t testing.TB) Statement {
	t.Helper()
	st, err := Build(decidedRequest())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustX25519(t testing.TB) crypto.PrivateKey {
	t.Helper()
	k, err := ecdhX25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// FuzzParseKeys feeds arbitrary text to ParseKeys: it never panics, and
// what it accepts signs receipts its own key set verifies.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(pemPrivate(f, key(1))))
	f.Add([]byte(pemPrivate(f, key(1)) + pemPublic(f, key(2).Public())))
	f.Add([]byte(pemPublic(f, key(2).Public())))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, text []byte) {
		s, ks, err := ParseKeys(text)
		if err != nil {
			if s != nil || len(ks.Keys()) != 0 {
				t.Fatal("an error with a signer or keys")
			}
			return
		}
		env, err := s.Sign(mustBuild(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Verify(env); err != nil {
			t.Fatalf("the parsed set does not verify its own signer: %v", err)
		}
	})
}
