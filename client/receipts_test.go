package client_test

import (
	"encoding/json"
	"errors"
	"testing"

	"approvald/client"
	"approvald/receipt"
)

func TestReceipt_DecidedRequestVerifiesWithTheServedKeys(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "Release outputs", Payload: json.RawMessage(`{"run": 7}`)})
	if err != nil {
		t.Fatal(err)
	}
	var e *client.Error
	if _, err := a.requester.GetReceipt(ctx, req.ID); !errors.As(err, &e) || e.Status != 409 || e.Code != "invalid_transition" {
		t.Fatalf("the receipt of a pending request: %v, want 409 invalid_transition", err)
	}
	if _, err := a.reviewer.Approve(ctx, req.ID, "fine"); err != nil {
		t.Fatal(err)
	}
	raw, err := a.requester.GetReceipt(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The keys need no credential.
	anon := newClient(t, shared.URL, "")
	jwks, err := anon.ReceiptKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := receipt.ParseJWKS(jwks)
	if err != nil {
		t.Fatalf("the served JWKS: %v", err)
	}
	var env receipt.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("the receipt is not a DSSE envelope: %v", err)
	}
	st, err := ks.Verify(env)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if st.Predicate.RequestID != req.ID || st.Predicate.Decision != "approved" {
		t.Errorf("predicate %+v", st.Predicate)
	}
	if err := receipt.CheckPayload(st, json.RawMessage(`{"run":7}`)); err != nil {
		t.Errorf("the payload: %v", err)
	}
	// Not a CR8TOR publication (and this server makes no release records).
	if _, err := a.requester.ReleaseRecord(ctx, req.ID); !errors.As(err, &e) || e.Status != 404 || e.Code != "not_found" {
		t.Errorf("the release record of a plain request: %v, want 404 not_found", err)
	}
	if _, err := a.requester.GetReceipt(ctx, "0190a5f0-0000-7000-8000-00000000dead"); !errors.As(err, &e) || e.Status != 404 {
		t.Errorf("no such request: %v, want 404", err)
	}
}
