package receipt

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestParseEnvelope_OneReadingOnly: an envelope that two JSON readers
// would read differently — a key given twice, or in another letter case,
// which encoding/json resolves to the last and jq to the first — or that
// carries unknown members is refused; the envelope as approvald writes it
// parses and verifies.
func TestParseEnvelope_OneReadingOnly(t *testing.T) {
	t.Parallel()
	_, _, ks, env := setup(t)
	good, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseEnvelope(good)
	if err != nil {
		t.Fatalf("approvald's own envelope: %v", err)
	}
	if _, err := ks.Verify(parsed); err != nil {
		t.Fatalf("the parsed envelope does not verify: %v", err)
	}
	forged := `"eyJmb3JnZWQiOnRydWV9"`
	sig, _ := json.Marshal(env.Signatures)
	for name, doc := range map[string]string{
		"case variant": `{"payloadType":"` + PayloadType + `","payload":` + forged + `,"PAYLOAD":"` + env.Payload + `","signatures":` + string(sig) + `}`,
		"duplicate":    `{"payloadType":"` + PayloadType + `","payload":` + forged + `,"payload":"` + env.Payload + `","signatures":` + string(sig) + `}`,
		"unknown":      `{"payloadType":"` + PayloadType + `","payload":"` + env.Payload + `","signatures":` + string(sig) + `,"note":"trust me"}`,
		"two values":   string(good) + string(good),
	} {
		if _, err := ParseEnvelope([]byte(doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

// TestVerify_Base64HasOneSpelling: a signature whose last base64 character
// differs only in the padding bits (the same bytes to a lax decoder) is
// refused, so one receipt has one spelling per alphabet.
func TestVerify_Base64HasOneSpelling(t *testing.T) {
	t.Parallel()
	_, _, ks, env := setup(t)
	sig := env.Signatures[0].Sig // 64 bytes: 88 characters ending "=="
	if !strings.HasSuffix(sig, "==") {
		t.Fatalf("signature %q does not end with padding", sig)
	}
	last := sig[len(sig)-3]
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(alphabet, last)
	variant := env
	variant.Signatures = []Signature{{KeyID: env.Signatures[0].KeyID, Sig: sig[:len(sig)-3] + string(alphabet[i^1]) + "=="}}
	if _, err := ks.Verify(variant); err == nil {
		t.Errorf("a signature with non-zero padding bits verifies")
	}
}
