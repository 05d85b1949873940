package receipt

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestInterop_OpenSSLVerifiesTheSignature: OpenSSL's command line, a
// verifier in another language that shares nothing with Go's crypto,
// accepts a receipt's Ed25519 signature over the DSSE pre-authentication
// encoding (written here from the DSSE specification, not with PAE), and
// refuses it over a changed payload. docs/receipts.md shows the same
// commands. Skips where openssl is not installed.
func TestInterop_OpenSSLVerifiesTheSignature(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	_, s, _, env := setup(t)
	dir := t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(s.PublicKey().Key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pubPath := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	sigPath := write("sig.bin", sig)
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(body []byte) ([]byte, error) {
		pae := fmt.Appendf(nil, "DSSEv1 %d %s %d ", len(env.PayloadType), env.PayloadType, len(body))
		pae = append(pae, body...)
		cmd := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", pubPath, "-rawin", "-in", write("pae.bin", pae), "-sigfile", sigPath)
		return cmd.CombinedOutput()
	}
	if out, err := verify(payload); err != nil {
		t.Fatalf("openssl refuses the receipt's signature: %v\n%s", err, out)
	}
	changed := append([]byte(nil), payload...)
	changed[len(changed)/2] ^= 1
	if out, err := verify(changed); err == nil {
		t.Fatalf("openssl accepts the signature over a changed payload:\n%s", out)
	}
}
