package receipt

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// FuzzVerify feeds Verify envelopes read from arbitrary JSON (the seed
// corpus in testdata/fuzz/FuzzVerify holds a valid receipt, tampered ones,
// one by another key and malformed ones). Verify must not panic, must fail
// only with one of its errors, and must accept nothing the reference DSSE
// verifier refuses.
func FuzzVerify(f *testing.F) {
	s, err := NewSigner("k1", key(1))
	if err != nil {
		f.Fatal(err)
	}
	ks, err := NewKeySet(s.PublicKey())
	if err != nil {
		f.Fatal(err)
	}
	pub := s.PublicKey()
	ref, err := dsse.NewEnvelopeVerifier(refEd25519{id: pub.ID, pub: pub.Key})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var env Envelope
		if json.Unmarshal(in, &env) != nil {
			return
		}
		st, err := ks.Verify(env)
		if err != nil {
			for _, known := range []error{ErrMalformed, ErrPayloadType, ErrUnknownKey, ErrSignature} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Verify failed with an error of no kind: %v", err)
		}
		if st.Type != StatementType || st.PredicateType != PredicateType {
			t.Fatalf("Verify accepted a statement of types %q, %q", st.Type, st.PredicateType)
		}
		// The reference verifier must accept it too, given only the
		// signatures by our key (it refuses an envelope with any signature
		// that is not base64, which Verify skips when the key is not ours).
		var mine []dsse.Signature
		for _, sig := range env.Signatures {
			if sig.KeyID == pub.ID {
				mine = append(mine, dsse.Signature{KeyID: sig.KeyID, Sig: sig.Sig})
			}
		}
		refEnv := &dsse.Envelope{PayloadType: env.PayloadType, Payload: env.Payload, Signatures: mine}
		if _, err := ref.Verify(context.Background(), refEnv); err != nil {
			t.Fatalf("Verify accepted an envelope the reference verifier refuses: %v", err)
		}
	})
}
