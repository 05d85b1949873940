package receipt

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

// refEd25519 is an Ed25519 signer and verifier for the reference DSSE
// library's interfaces, written from its documentation, sharing no code
// with the package under test.
type refEd25519 struct {
	id   string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func (k refEd25519) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(k.priv, data), nil
}

func (k refEd25519) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(k.pub, data, sig) {
		return errors.New("ed25519: invalid signature")
	}
	return nil
}

func (k refEd25519) KeyID() (string, error)   { return k.id, nil }
func (k refEd25519) Public() crypto.PublicKey { return k.pub }

// toRef converts our envelope to the reference library's, through JSON as
// a receiver would read it.
func toRef(t *testing.T, env Envelope) *dsse.Envelope {
	t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var ref dsse.Envelope
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return &ref
}

func TestInterop_ReferenceDSSEVerifiesOurEnvelope(t *testing.T) {
	t.Parallel()
	r, s, _, env := setup(t)
	pub := s.PublicKey()
	v, err := dsse.NewEnvelopeVerifier(refEd25519{id: pub.ID, pub: pub.Key})
	if err != nil {
		t.Fatal(err)
	}
	accepted, body, err := v.VerifyAndDecode(context.Background(), toRef(t, env))
	if err != nil {
		t.Fatalf("the reference verifier refuses our envelope: %v", err)
	}
	if len(accepted) != 1 || accepted[0].KeyID != "k1" {
		t.Errorf("accepted = %+v", accepted)
	}

	// The in-toto reference bindings parse the statement and find it valid.
	var st intoto.Statement
	if err := protojson.Unmarshal(body, &st); err != nil {
		t.Fatalf("in-toto bindings: %v", err)
	}
	if err := st.Validate(); err != nil {
		t.Errorf("in-toto Validate: %v", err)
	}
	if st.GetType() != intoto.StatementTypeUri || st.GetPredicateType() != PredicateType {
		t.Errorf("types = %q, %q", st.GetType(), st.GetPredicateType())
	}
	ours, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	subs := st.GetSubject()
	if len(subs) != len(ours.Subject) {
		t.Fatalf("subjects = %v", subs)
	}
	for i, sub := range subs {
		want := ours.Subject[i]
		if sub.GetName() != want.Name || len(sub.GetDigest()) != len(want.Digest) {
			t.Errorf("subject %d = %v, want %+v", i, sub, want)
		}
		for alg, d := range want.Digest {
			if sub.GetDigest()[alg] != d {
				t.Errorf("subject %d digest %s = %q, want %q", i, alg, sub.GetDigest()[alg], d)
			}
		}
	}
	pred := st.GetPredicate().AsMap()
	if pred["request_id"] != r.ID || pred["history_head"] != r.HistoryHead || len(pred["reviews"].([]any)) != len(r.Reviews) {
		t.Errorf("predicate = %v", pred)
	}

	// Tampering is caught by the reference verifier too.
	tampered := editPayload(t, env, func(m map[string]any) {
		p := m["predicate"].(map[string]any)
		p["reviews"] = p["reviews"].([]any)[:1]
	})
	if _, err := v.Verify(context.Background(), toRef(t, tampered)); err == nil {
		t.Error("the reference verifier accepts an envelope whose review was removed")
	}
}

func TestInterop_WeVerifyTheReferenceSignersEnvelope(t *testing.T) {
	t.Parallel()
	r, _, ks, _ := setup(t)
	st, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	priv := key(1)
	es, err := dsse.NewEnvelopeSigner(refEd25519{id: "k1", priv: priv, pub: priv.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := es.SignPayload(context.Background(), PayloadType, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ref)
	if err != nil {
		t.Fatal(err)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	got, err := ks.Verify(env)
	if err != nil {
		t.Fatalf("our verifier refuses the reference signer's envelope: %v", err)
	}
	if got.Predicate.RequestID != r.ID {
		t.Errorf("statement = %+v", got)
	}
}

func TestInterop_JOSEReadsOurJWKS(t *testing.T) {
	t.Parallel()
	_, s, ks, _ := setup(t)
	b, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("go-jose: %v", err)
	}
	keys := set.Key("k1")
	if len(keys) != 1 || !keys[0].Valid() || keys[0].Algorithm != "EdDSA" || keys[0].Use != "sig" {
		t.Fatalf("go-jose keys = %+v", keys)
	}
	pub, ok := keys[0].Key.(ed25519.PublicKey)
	if !ok || !pub.Equal(s.PublicKey().Key) {
		t.Errorf("go-jose key = %#v", keys[0].Key)
	}
	// And a JWKS go-jose writes parses here.
	out, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: s.PublicKey().Key, KeyID: "jose", Use: "sig", Algorithm: "EdDSA"}}})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseJWKS(out)
	if err != nil || len(parsed.Keys()) != 1 || parsed.Keys()[0].ID != "jose" || !parsed.Keys()[0].Key.Equal(s.PublicKey().Key) {
		t.Errorf("ParseJWKS of go-jose's set: %+v, %v", parsed.Keys(), err)
	}
}
