package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"approvald/approval"
	"approvald/receipt"
	"approvald/rocrate"
)

// receiptPEM returns the PEM of an Ed25519 key made from seed, as a
// PRIVATE KEY block, or as its PUBLIC KEY block when public is true.
func receiptPEM(t *testing.T, seed byte, public bool) string {
	t.Helper()
	k := ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+seed)), ed25519.SeedSize)))
	var (
		der []byte
		err error
		typ = "PRIVATE KEY"
	)
	if public {
		der, err = x509.MarshalPKIXPublicKey(k.Public())
		typ = "PUBLIC KEY"
	} else {
		der, err = x509.MarshalPKCS8PrivateKey(k)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// receiptIssuer returns a receipt issuer of the PEM keys.
func receiptIssuer(t *testing.T, pemText string) *receipt.Issuer {
	t.Helper()
	s, ks, err := receipt.ParseKeys([]byte(pemText))
	if err != nil {
		t.Fatal(err)
	}
	return &receipt.Issuer{Signer: s, Keys: ks}
}

// receiptFixture is an API with receipts signed by key 1; deps is a copy of
// its dependencies, to serve the same database with others.
func receiptFixture(t *testing.T, opts ...func(*Deps)) (*fixture, *Deps) {
	t.Helper()
	var deps Deps
	opts = append([]func(*Deps){func(d *Deps) { d.Receipts = receiptIssuer(t, receiptPEM(t, 1, false)) }}, opts...)
	opts = append(opts, func(d *Deps) { deps = *d })
	return setupWith(t, opts...), &deps
}

// serverKeys fetches the JWKS at the well-known URL without a credential.
func serverKeys(t *testing.T, base string) receipt.KeySet {
	t.Helper()
	r := apiClient{t: t, base: base}.raw("GET", "/.well-known/approvald/keys", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/jwk-set+json" || !strings.Contains(r.header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("GET /.well-known/approvald/keys: %d %v %s", r.status, r.header, r.body)
	}
	ks, err := receipt.ParseJWKS(r.body)
	if err != nil {
		t.Fatalf("the served JWKS: %v", err)
	}
	return ks
}

func decodeEnvelope(t *testing.T, b []byte) receipt.Envelope {
	t.Helper()
	var env receipt.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("the receipt is not an envelope: %v: %s", err, b)
	}
	return env
}

// rewrite changes the statement inside env without signing it again.
func rewrite(t *testing.T, env receipt.Envelope, edit func(m map[string]any)) receipt.Envelope {
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
	raw, _ = json.Marshal(m)
	env.Payload = base64.StdEncoding.EncodeToString(raw)
	return env
}

func TestReceipt_DecidedRequestVerifiesAgainstTheServedKeys(t *testing.T) {
	f, _ := receiptFixture(t)
	creator, reviewer := f.roles()
	req := creator.create("publish the tables")
	reviewer.json(200, "POST", "/v1/approvals/"+req.ID+"/reviews", map[string]any{"decision": "approve", "comment": "fine"}, nil)

	r := creator.raw("GET", "/v1/approvals/"+req.ID+"/receipt", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.header.Get("ETag") == "" {
		t.Fatalf("GET receipt: %d %v %s", r.status, r.header, r.body)
	}
	env := decodeEnvelope(t, r.body)
	ks := serverKeys(t, f.url)
	st, err := ks.Verify(env)
	if err != nil {
		t.Fatalf("Verify with the served JWKS: %v", err)
	}
	p := st.Predicate
	if p.RequestID != req.ID || p.Decision != "approved" || p.Status != "approved" || p.DecidedAt == nil ||
		len(p.Reviews) != 1 || p.Reviews[0].Comment != "fine" || p.Version < 2 {
		t.Errorf("predicate %+v", p)
	}
	if err := receipt.CheckPayload(st, json.RawMessage(`{"n": 1}`)); err != nil {
		t.Errorf("the payload as created: %v", err)
	}
	if err := receipt.CheckPayload(st, json.RawMessage(`{"n": 2}`)); !errors.Is(err, receipt.ErrPayloadMismatch) {
		t.Errorf("another payload: %v, want ErrPayloadMismatch", err)
	}
	if env.Signatures[0].KeyID != ks.Keys()[0].ID {
		t.Errorf("keyid %q, JWKS kid %q", env.Signatures[0].KeyID, ks.Keys()[0].ID)
	}

	// The same version answers the same bytes: 304 with its ETag.
	if again := creator.raw("GET", "/v1/approvals/"+req.ID+"/receipt", nil, "If-None-Match", r.header.Get("ETag")); again.status != 304 {
		t.Errorf("If-None-Match with the receipt's ETag: %d", again.status)
	}

	// Tampering: a changed byte, a removed review, another key.
	flipped := env
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	payload[len(payload)/2] ^= 0x01
	flipped.Payload = base64.StdEncoding.EncodeToString(payload)
	if _, err := ks.Verify(flipped); !errors.Is(err, receipt.ErrSignature) {
		t.Errorf("a changed byte: %v, want ErrSignature", err)
	}
	dropped := rewrite(t, env, func(m map[string]any) { m["predicate"].(map[string]any)["reviews"] = []any{} })
	if _, err := ks.Verify(dropped); !errors.Is(err, receipt.ErrSignature) {
		t.Errorf("a removed review: %v, want ErrSignature", err)
	}
	other := receiptIssuer(t, receiptPEM(t, 9, false))
	if _, err := other.Keys.Verify(env); !errors.Is(err, receipt.ErrUnknownKey) {
		t.Errorf("another key set: %v, want ErrUnknownKey", err)
	}
}

func TestReceipt_DecisionIsStatedWhileItIsDelivered(t *testing.T) {
	f, _ := receiptFixture(t)
	f.rule("publisher", "https://receiver.example/hook")
	creator, reviewer := f.roles()
	req := creator.createFor("deliver me", "publisher")
	reviewer.json(200, "POST", "/v1/approvals/"+req.ID+"/reviews", map[string]any{"decision": "reject", "comment": "no"}, nil)
	r := creator.raw("GET", "/v1/approvals/"+req.ID+"/receipt", nil)
	if r.status != 200 {
		t.Fatalf("GET receipt while delivering: %d %s", r.status, r.body)
	}
	st, err := serverKeys(t, f.url).Verify(decodeEnvelope(t, r.body))
	if err != nil {
		t.Fatal(err)
	}
	if st.Predicate.Status != "acknowledged_rejected" || st.Predicate.Decision != "rejected" {
		t.Errorf("status %q decision %q, want acknowledged_rejected and rejected", st.Predicate.Status, st.Predicate.Decision)
	}
}

func TestReceipt_UndecidedUnknownAndUnreadable(t *testing.T) {
	f, _ := receiptFixture(t)
	creator, _ := f.roles()
	req := creator.create("still pending")
	r := creator.raw("GET", "/v1/approvals/"+req.ID+"/receipt", nil)
	if r.status != 409 || r.problem(t).Code != approval.CodeInvalidTransition || !strings.Contains(r.problem(t).Detail, "until it is decided") {
		t.Errorf("undecided: %d %s", r.status, r.body)
	}
	if r := creator.raw("GET", "/v1/approvals/0190a5f0-0000-7000-8000-000000000009/receipt", nil); r.status != 404 {
		t.Errorf("no such request: %d %s", r.status, r.body)
	}
	// As GET /v1/approvals/{id}: a key without approvals:read may not read it.
	writer := f.key("writer", approval.ScopeCreate)
	for _, path := range []string{"/v1/approvals/" + req.ID, "/v1/approvals/" + req.ID + "/receipt", "/v1/approvals/" + req.ID + "/release-record"} {
		if r := writer.raw("GET", path, nil); r.status != 403 || r.problem(t).Code != approval.CodeMissingScope {
			t.Errorf("GET %s without approvals:read: %d %s", path, r.status, r.body)
		}
	}
	auditor := f.key("auditor", approval.ScopeAudit)
	if r := auditor.raw("GET", "/v1/approvals/"+req.ID+"/receipt", nil); r.status != 409 {
		t.Errorf("the audit scope reads it as approvals:read does: %d %s", r.status, r.body)
	}
	if r := (apiClient{t: t, base: f.url}).raw("GET", "/v1/approvals/"+req.ID+"/receipt", nil); r.status != 401 {
		t.Errorf("no key: %d", r.status)
	}
}

func TestReceipt_NotConfigured(t *testing.T) {
	f := setup(t)
	creator, reviewer := f.roles()
	req := creator.create("x")
	reviewer.json(200, "POST", "/v1/approvals/"+req.ID+"/reviews", map[string]any{"decision": "approve"}, nil)
	for _, path := range []string{"/v1/approvals/" + req.ID + "/receipt"} {
		if r := creator.raw("GET", path, nil); r.status != 503 || !strings.Contains(r.problem(t).Detail, "receipts are not configured") {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	if r := (apiClient{t: t, base: f.url}).raw("GET", "/.well-known/approvald/keys", nil); r.status != 503 {
		t.Errorf("keys without receipts: %d %s", r.status, r.body)
	}
	if r := creator.raw("GET", "/v1/approvals/"+req.ID+"/release-record", nil); r.status != 404 || !strings.Contains(r.problem(t).Detail, "release records are not configured") {
		t.Errorf("release record without a maker: %d %s", r.status, r.body)
	}
}

func TestReceipt_RotationKeepsOldReceiptsVerifiable(t *testing.T) {
	f, deps := receiptFixture(t)
	creator, reviewer := f.roles()
	req := creator.create("before the rotation")
	reviewer.json(200, "POST", "/v1/approvals/"+req.ID+"/reviews", map[string]any{"decision": "approve"}, nil)
	old := decodeEnvelope(t, creator.raw("GET", "/v1/approvals/"+req.ID+"/receipt", nil).body)

	// The same database served with a new key that signs and the old one
	// kept as a PUBLIC KEY.
	rotated := *deps
	rotated.Receipts = receiptIssuer(t, receiptPEM(t, 2, false)+receiptPEM(t, 1, true))
	srv := httptest.NewServer(New(rotated))
	t.Cleanup(srv.Close)
	ks := serverKeys(t, srv.URL)
	if len(ks.Keys()) != 2 {
		t.Fatalf("the rotated JWKS has %d keys, want 2", len(ks.Keys()))
	}
	if _, err := ks.Verify(old); err != nil {
		t.Errorf("a receipt of the old key after the rotation: %v", err)
	}
	fresh := decodeEnvelope(t, apiClient{t: t, base: srv.URL, key: creator.key}.raw("GET", "/v1/approvals/"+req.ID+"/receipt", nil).body)
	if fresh.Signatures[0].KeyID == old.Signatures[0].KeyID || fresh.Signatures[0].KeyID != ks.Keys()[0].ID {
		t.Errorf("after the rotation the receipt is signed by %q (old %q, JWKS first %q)", fresh.Signatures[0].KeyID, old.Signatures[0].KeyID, ks.Keys()[0].ID)
	}
	if _, err := ks.Verify(fresh); err != nil {
		t.Errorf("the new receipt: %v", err)
	}
	// Without the old key kept, the old receipt names an unknown key.
	rotated.Receipts = receiptIssuer(t, receiptPEM(t, 2, false))
	bare := httptest.NewServer(New(rotated))
	t.Cleanup(bare.Close)
	if _, err := serverKeys(t, bare.URL).Verify(old); !errors.Is(err, receipt.ErrUnknownKey) {
		t.Errorf("the old receipt against only the new key: %v, want ErrUnknownKey", err)
	}
}

func TestReleaseRecord_OnlyForDecidedPublications(t *testing.T) {
	f, _ := receiptFixture(t, func(d *Deps) { d.ReleaseRecord = rocrate.Maker{Receipts: d.Receipts}.Record })
	creator, reviewer := f.roles()
	plain := creator.create("not a publication")
	reviewer.json(200, "POST", "/v1/approvals/"+plain.ID+"/reviews", map[string]any{"decision": "approve"}, nil)
	if r := creator.raw("GET", "/v1/approvals/"+plain.ID+"/release-record", nil); r.status != 404 || !strings.Contains(r.problem(t).Detail, "not a CR8TOR publication") {
		t.Errorf("a request that is not a publication: %d %s", r.status, r.body)
	}

	// Only the CR8TOR gateway opens requests under a run's subject: through
	// the API the subject is refused, so the publication is opened as the
	// gateway does, with the package request in its payload.
	creator.json(422, "POST", "/v1/approvals", map[string]any{"title": "publish run", "subject": "cr8tor:Pr004/20250205_010101"}, nil)
	pkg, err := os.ReadFile(filepath.Join("..", "gateway", "testdata", "cr8tor", "package.request.json"))
	if err != nil {
		t.Fatal(err)
	}
	gatewayPrincipal := approval.Principal{ID: "svc:cr8tor", Scopes: []approval.Scope{approval.ScopeCreate}}
	c, err := f.eng.Create(context.Background(), gatewayPrincipal, approval.Draft{Title: "publish run", Subject: "cr8tor:Pr004/20250205_010101",
		Payload: json.RawMessage(`{"request":` + string(pkg) + `}`), Origin: approval.OriginCR8TOR}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := c.Request.ID
	if r := creator.raw("GET", "/v1/approvals/"+id+"/release-record", nil); r.status != 409 {
		t.Errorf("an undecided publication: %d %s", r.status, r.body)
	}
	reviewer.json(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"}, nil)
	if r := creator.raw("GET", "/v1/approvals/"+id+"/release-record", nil); r.status != 409 || !strings.Contains(r.problem(t).Detail, "nothing has been published") {
		t.Errorf("an approved publication with nothing published: %d %s", r.status, r.body)
	}
	const sum = "6ed6e817fb78953648324b0b9e44711bb55aa790e22e2353e8af6eae1f182bfdf10f88fc0e1a33c389cc3b73346dc513fde3fda594e3725ad1a3b568a55ff41c"
	if _, err := f.eng.RecordOutcome(context.Background(), gatewayPrincipal, id, json.RawMessage(`{"published":{"data_published":[{"file_path":"data/outputs/public/concept.csv","hash_value":"`+sum+`","total_bytes":1585152}]}}`)); err != nil {
		t.Fatal(err)
	}
	r := creator.raw("GET", "/v1/approvals/"+id+"/release-record", nil)
	if r.status != 200 || r.header.Get("Content-Type") != rocrate.ContentType || r.header.Get("ETag") == "" {
		t.Fatalf("the release record: %d %v %s", r.status, r.header, r.body)
	}
	if _, err := rocrate.Expand(r.body); err != nil {
		t.Fatalf("the record does not expand: %v", err)
	}
	keys := serverKeys(t, f.url).Keys()
	for _, want := range []string{id, sum, "data/outputs/public/concept.csv", keys[0].ID} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("the record does not name %q", want)
		}
	}
}
