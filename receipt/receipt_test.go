package receipt

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

var t0 = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

// key returns a deterministic Ed25519 key from seed so failures reproduce.
func key(seed byte) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s)
}

// decided returns an approved request with two items, three reviews (one
// void, one by a delegate) and a partial item outcome.
func decidedRequest() *approval.Request {
	fileA := sha256.Sum256([]byte("file a"))
	fileB := sha512.Sum512([]byte("file b"))
	decided := t0.Add(2 * time.Hour)
	items := []approval.Item{
		{ID: "a", Name: "outputs/a.csv", Size: 6, Digest: "sha256:" + hex.EncodeToString(fileA[:])},
		{ID: "b", Name: "outputs/b.csv", Size: 6, Digest: "sha512:" + hex.EncodeToString(fileB[:])},
	}
	return &approval.Request{
		ID:           "req-1",
		Payload:      json.RawMessage(`{"project": "p1", "run": 7, "files": ["a", "b"]}`),
		Requester:    "alice",
		Policy:       approval.Policy{Rules: []approval.Rule{{Name: "custodians", MinApprovals: 2, Groups: []string{"custodians"}}}},
		PolicySource: "policy:disclosure",
		Items:        items,
		ItemOutcome: &approval.ItemOutcome{
			Approved: []approval.ItemRef{{ID: "a", Name: items[0].Name, Digest: items[0].Digest}},
			Rejected: []approval.ItemRef{{ID: "b", Name: items[1].Name, Digest: items[1].Digest}},
			Partial:  true,
		},
		Status: approval.StatusApproved,
		Reviews: []approval.Review{
			{Reviewer: "bob", Decision: approval.DecisionApprove, At: t0.Add(time.Minute), Version: 1, Void: true},
			{Reviewer: "carol", Decision: approval.DecisionApprove, Comment: "ok", At: t0.Add(time.Hour), Version: 2},
			{Reviewer: "dave", By: "erin", Decision: approval.DecisionApprove, At: decided, Version: 2},
		},
		Version:     3,
		CreatedAt:   t0,
		UpdatedAt:   decided,
		DecidedAt:   &decided,
		HistoryHead: "sha256:" + strings.Repeat("ab", 32),
	}
}

// setup signs the statement of decidedRequest with key "k1".
func setup(t *testing.T) (*approval.Request, *Signer, KeySet, Envelope) {
	t.Helper()
	r := decidedRequest()
	st, err := Build(r)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	s, err := NewSigner("k1", key(1))
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	ks, err := NewKeySet(s.PublicKey())
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	env, err := s.Sign(st)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return r, s, ks, env
}

// editPayload decodes env's statement as generic JSON, lets edit change
// it, and puts it back without signing again.
func editPayload(t *testing.T, env Envelope, edit func(m map[string]any)) Envelope {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	env.Payload = base64.StdEncoding.EncodeToString(raw)
	return env
}

func TestBuild_RecordsSubjectsAndDecision(t *testing.T) {
	t.Parallel()
	r := decidedRequest()
	st, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	if st.Type != StatementType || st.PredicateType != PredicateType {
		t.Errorf("types = %q, %q", st.Type, st.PredicateType)
	}
	// The payload's digest is over its RFC 8785 form: keys sorted, no spaces.
	canonical := sha256.Sum256([]byte(`{"files":["a","b"],"project":"p1","run":7}`))
	want := []Subject{
		{Name: "payload", Digest: map[string]string{"sha256": hex.EncodeToString(canonical[:])}},
		{Name: "outputs/a.csv", Digest: map[string]string{"sha256": strings.TrimPrefix(r.Items[0].Digest, "sha256:")}},
		{Name: "outputs/b.csv", Digest: map[string]string{"sha512": strings.TrimPrefix(r.Items[1].Digest, "sha512:")}},
	}
	if len(st.Subject) != len(want) {
		t.Fatalf("subjects = %+v, want %+v", st.Subject, want)
	}
	for i := range want {
		if st.Subject[i].Name != want[i].Name || len(st.Subject[i].Digest) != 1 {
			t.Errorf("subject %d = %+v, want %+v", i, st.Subject[i], want[i])
		}
		for alg, d := range want[i].Digest {
			if st.Subject[i].Digest[alg] != d {
				t.Errorf("subject %d %s = %q, want %q", i, alg, st.Subject[i].Digest[alg], d)
			}
		}
	}
	p := st.Predicate
	if p.RequestID != "req-1" || p.Version != 3 || p.Status != "approved" || !p.DecidedAt.Equal(*r.DecidedAt) ||
		p.PolicySource != "policy:disclosure" || p.HistoryHead != r.HistoryHead || p.ItemOutcome == nil || !p.ItemOutcome.Partial {
		t.Errorf("predicate = %+v", p)
	}
	policySum := sha256.Sum256(p.Policy)
	if p.PolicySHA256 != hex.EncodeToString(policySum[:]) {
		t.Errorf("policy_sha256 %s is not the SHA-256 of the policy %s", p.PolicySHA256, p.Policy)
	}
	var pol approval.Policy
	if err := json.Unmarshal(p.Policy, &pol); err != nil || len(pol.Rules) != 1 || pol.Rules[0].Name != "custodians" || pol.Rules[0].MinApprovals != 2 {
		t.Errorf("policy = %s (%v)", p.Policy, err)
	}
	wantReviews := []Review{
		{Reviewer: "bob", Decision: "approve", At: t0.Add(time.Minute), Version: 1, Void: true},
		{Reviewer: "carol", Decision: "approve", Comment: "ok", At: t0.Add(time.Hour), Version: 2},
		{Reviewer: "dave", By: "erin", Decision: "approve", At: t0.Add(2 * time.Hour), Version: 2},
	}
	if len(p.Reviews) != len(wantReviews) {
		t.Fatalf("reviews = %+v", p.Reviews)
	}
	for i, w := range wantReviews {
		if g := p.Reviews[i]; g.Reviewer != w.Reviewer || g.By != w.By || g.Decision != w.Decision || g.Comment != w.Comment ||
			!g.At.Equal(w.At) || g.Version != w.Version || g.Void != w.Void {
			t.Errorf("review %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestBuild_RefusesUndecidedRequest(t *testing.T) {
	t.Parallel()
	for _, s := range []approval.Status{approval.StatusPending, approval.StatusChangesRequested, approval.StatusError} {
		r := decidedRequest()
		r.Status = s
		_, err := Build(r)
		if approval.KindOf(err) != approval.KindConflict {
			t.Errorf("%s: err = %v, want a conflict", s, err)
		}
	}
	for _, s := range []approval.Status{approval.StatusRejected, approval.StatusCancelled, approval.StatusExpired, approval.StatusRevoked, approval.StatusAcknowledgedApproved} {
		r := decidedRequest()
		r.Status = s
		st, err := Build(r)
		if err != nil || st.Predicate.Status != s.String() {
			t.Errorf("%s: status %q, err %v", s, st.Predicate.Status, err)
		}
	}
}

func TestSignVerify_Offline(t *testing.T) {
	t.Parallel()
	r, _, ks, env := setup(t)
	// Through JSON, as a receipt file would be read.
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var read Envelope
	if err := json.Unmarshal(b, &read); err != nil {
		t.Fatal(err)
	}
	st, err := ks.Verify(read)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if st.Predicate.RequestID != r.ID || len(st.Predicate.Reviews) != 3 || len(st.Subject) != 3 {
		t.Errorf("statement = %+v", st)
	}
	if err := CheckPayload(st, r.Payload); err != nil {
		t.Errorf("CheckPayload of the request's payload: %v", err)
	}
	// The same JSON written differently canonicalises the same.
	if err := CheckPayload(st, json.RawMessage("{\"run\":7.0,\n \"files\":[\"a\",\"b\"],\"project\":\"p1\"}")); err != nil {
		t.Errorf("CheckPayload of the payload reformatted: %v", err)
	}
}

func TestVerify_FailsPrecisely(t *testing.T) {
	t.Parallel()
	r, _, ks, env := setup(t)
	other, err := NewSigner("k2", key(2))
	if err != nil {
		t.Fatal(err)
	}
	st, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := other.Sign(st)
	if err != nil {
		t.Fatal(err)
	}
	// Another key claiming k1's id.
	impostor, err := NewSigner("k1", key(3))
	if err != nil {
		t.Fatal(err)
	}
	byImpostor, err := impostor.Sign(st)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(env.Payload)
	flipped := []byte(string(raw))
	i := strings.Index(string(flipped), `"req-1"`) + 4
	flipped[i] = '2' // request id req-2
	changedByte := env
	changedByte.Payload = base64.StdEncoding.EncodeToString(flipped)

	tests := []struct {
		name string
		env  Envelope
		want error
		msg  string
	}{
		{"a changed payload byte", changedByte, ErrSignature, `the signature by key "k1" does not match`},
		{"a removed review", editPayload(t, env, func(m map[string]any) {
			p := m["predicate"].(map[string]any)
			p["reviews"] = p["reviews"].([]any)[1:]
		}), ErrSignature, `key "k1"`},
		{"another key", byOther, ErrUnknownKey, `signed by key "k2", the known keys are "k1"`},
		{"another key under the same id", byImpostor, ErrSignature, `key "k1"`},
		{"another payloadType", func() Envelope { e := env; e.PayloadType = "application/json"; return e }(), ErrPayloadType, `"application/json"`},
		{"no signature", func() Envelope { e := env; e.Signatures = nil; return e }(), ErrMalformed, "no signature"},
		{"a payload that is not base64", func() Envelope { e := env; e.Payload = "%%%"; return e }(), ErrMalformed, "not base64"},
		{"a signature that is not base64", func() Envelope {
			e := env
			e.Signatures = []Signature{{KeyID: "k1", Sig: "!"}}
			return e
		}(), ErrMalformed, "signature 0"},
	}
	for _, tt := range tests {
		_, err := ks.Verify(tt.env)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tt.name, err, tt.want, tt.msg)
		}
	}
	// A changed payload is caught by CheckPayload even when the receipt is intact.
	good, err := ks.Verify(env)
	if err != nil {
		t.Fatal(err)
	}
	err = CheckPayload(good, json.RawMessage(`{"project":"p1","run":8,"files":["a","b"]}`))
	if !errors.Is(err, ErrPayloadMismatch) {
		t.Errorf("CheckPayload of another payload: %v", err)
	}
	if err := CheckPayload(good, json.RawMessage(`{"project":`)); err == nil || errors.Is(err, ErrPayloadMismatch) {
		t.Errorf("CheckPayload of broken JSON: %v", err)
	}
}

func TestVerify_RotationKeepsOldKeys(t *testing.T) {
	t.Parallel()
	_, old, _, env := setup(t)
	next, err := NewSigner("k2", key(2))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeySet(next.PublicKey(), old.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Verify(env); err != nil {
		t.Errorf("a receipt by the old key after rotation: %v", err)
	}
	// An envelope with a foreign signature first and ours second verifies.
	env.Signatures = append([]Signature{{KeyID: "elsewhere", Sig: "AAAA"}}, env.Signatures...)
	if _, err := ks.Verify(env); err != nil {
		t.Errorf("with a foreign signature too: %v", err)
	}
}

func TestVerify_RefusesSignedStatementsOfAnotherKind(t *testing.T) {
	t.Parallel()
	_, s, ks, _ := setup(t)
	for name, edit := range map[string]func(*Statement){
		"_type":         func(st *Statement) { st.Type = "https://in-toto.io/Statement/v0.1" },
		"predicateType": func(st *Statement) { st.PredicateType = "https://slsa.dev/provenance/v1" },
		"no payload":    func(st *Statement) { st.Subject = st.Subject[1:] },
	} {
		st, err := Build(decidedRequest())
		if err != nil {
			t.Fatal(err)
		}
		edit(&st)
		env, err := s.Sign(st)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Verify(env); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestJWKS_RoundTrip(t *testing.T) {
	t.Parallel()
	_, s, _, env := setup(t)
	next, err := NewSigner("k2", key(2))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeySet(next.PublicKey(), s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Keys) != 2 {
		t.Fatalf("JWKS %s (%v)", b, err)
	}
	k := doc.Keys[1]
	pub := s.PublicKey().Key
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["kid"] != "k1" || k["use"] != "sig" || k["alg"] != "EdDSA" ||
		k["x"] != base64.RawURLEncoding.EncodeToString(pub) {
		t.Errorf("key = %v", k)
	}
	parsed, err := ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	got := parsed.Keys()
	if len(got) != 2 || got[0].ID != "k2" || got[1].ID != "k1" || !got[1].Key.Equal(pub) {
		t.Errorf("parsed = %+v", got)
	}
	if _, err := parsed.Verify(env); err != nil {
		t.Errorf("Verify with the parsed set: %v", err)
	}
}

func TestParseJWKS_Errors(t *testing.T) {
	t.Parallel()
	x := base64.RawURLEncoding.EncodeToString(key(1).Public().(ed25519.PublicKey))
	tests := []struct {
		name, jwks, msg string
	}{
		{"not JSON", `{"keys":`, "does not decode"},
		{"no key", `{"keys":[]}`, "no Ed25519 signing key"},
		{"only other kinds", `{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},{"kty":"OKP","crv":"X25519","kid":"x","x":"` + x + `"},{"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"` + x + `"}]}`, "no Ed25519 signing key"},
		{"short x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA"}]}`, `kid "k"): x must be the 32-byte`},
		{"padded x", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"` + x + `="}]}`, "unpadded base64url"},
		{"no kid", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`, "key id"},
		{"kid twice", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"` + x + `"},{"kty":"OKP","crv":"Ed25519","kid":"k","x":"` + x + `"}]}`, "used twice"},
	}
	for _, tt := range tests {
		_, err := ParseJWKS([]byte(tt.jwks))
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want one containing %q", tt.name, err, tt.msg)
		}
	}
	// Other keys beside ours are ignored.
	ks, err := ParseJWKS([]byte(`{"keys":[{"kty":"RSA","kid":"r"},{"kty":"OKP","crv":"Ed25519","kid":"k","x":"` + x + `"}]}`))
	if err != nil || len(ks.Keys()) != 1 || ks.Keys()[0].ID != "k" {
		t.Errorf("mixed set: %+v, %v", ks.Keys(), err)
	}
}

func TestNewSigner_NewKeySet_Errors(t *testing.T) {
	t.Parallel()
	if _, err := NewSigner("", key(1)); err == nil {
		t.Error("an empty key id was accepted")
	}
	if _, err := NewSigner("a b", key(1)); err == nil {
		t.Error("a key id with a space was accepted")
	}
	if _, err := NewSigner("k", key(1)[:10]); err == nil {
		t.Error("a short private key was accepted")
	}
	pub := key(1).Public().(ed25519.PublicKey)
	if _, err := NewKeySet(PublicKey{ID: "k", Key: pub[:31]}); err == nil {
		t.Error("a short public key was accepted")
	}
	if _, err := NewKeySet(PublicKey{ID: "k", Key: pub}, PublicKey{ID: "k", Key: pub}); err == nil {
		t.Error("a key id used twice was accepted")
	}
}

func TestPAE_MatchesTheDSSESpec(t *testing.T) {
	t.Parallel()
	// The example of the DSSE protocol document.
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	if want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"; got != want {
		t.Errorf("PAE = %q, want %q", got, want)
	}
}
