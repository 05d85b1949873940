package receipt

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"testing"

	"approvald/approval"
)

func TestBuild_DecisionIsTheSameBeforeAndAfterDelivery(t *testing.T) {
	t.Parallel()
	ack := func(s approval.Status) *approval.Status { return &s }
	for _, tc := range []struct {
		status   approval.Status
		previous *approval.Status
		decision string // "" when there is no receipt
	}{
		{approval.StatusAcknowledgedApproved, nil, "approved"},
		{approval.StatusApproved, nil, "approved"},
		{approval.StatusAcknowledgedRejected, nil, "rejected"},
		{approval.StatusRejected, nil, "rejected"},
		{approval.StatusAcknowledgedCancelled, nil, "cancelled"},
		{approval.StatusCancelled, nil, "cancelled"},
		{approval.StatusExpired, nil, "expired"},
		{approval.StatusRevoked, nil, "revoked"},
		// A failed delivery leaves no decision that stands: the request
		// may be edited (voiding the approval) and decided again in error.
		{approval.StatusError, ack(approval.StatusAcknowledgedApproved), ""},
		{approval.StatusError, ack(approval.StatusAcknowledgedRejected), ""},
		{approval.StatusError, nil, ""},
		{approval.StatusPending, nil, ""},
		{approval.StatusChangesRequested, nil, ""},
	} {
		r := decidedRequest()
		r.Status, r.PreviousStatus = tc.status, tc.previous
		st, err := Build(r)
		if tc.decision == "" {
			if approval.KindOf(err) != approval.KindConflict {
				t.Errorf("%s: err = %v, want a conflict (no receipt while undecided)", tc.status, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.status, err)
			continue
		}
		if st.Predicate.Decision != tc.decision || st.Predicate.Status != tc.status.String() {
			t.Errorf("%s: decision %q status %q, want decision %q status %q", tc.status, st.Predicate.Decision, st.Predicate.Status, tc.decision, tc.status)
		}
	}
}

func TestIssuer_IssueAddsTheExtraSubjectsAndSigns(t *testing.T) {
	t.Parallel()
	s, ks, err := ParseKeys([]byte(pemPrivate(t, key(4))))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512([]byte("published"))
	var asked *approval.Request
	is := &Issuer{Signer: s, Keys: ks, Extra: func(r *approval.Request) []Subject {
		asked = r
		return []Subject{{Name: "outputs/report.pdf", Digest: map[string]string{"sha512": hex.EncodeToString(sum[:])}}}
	}}
	r := decidedRequest()
	env, err := is.Issue(r)
	if err != nil {
		t.Fatal(err)
	}
	if asked != r {
		t.Error("Extra was not asked about the request")
	}
	st, err := ks.Verify(env)
	if err != nil {
		t.Fatal(err)
	}
	last := st.Subject[len(st.Subject)-1]
	if len(st.Subject) != 4 || last.Name != "outputs/report.pdf" || last.Digest["sha512"] != hex.EncodeToString(sum[:]) {
		t.Errorf("subjects %+v: want payload, two items, then the published file", st.Subject)
	}
	if st.Predicate.Decision != "approved" || env.Signatures[0].KeyID != Thumbprint(key(4).Public().(ed25519.PublicKey)) {
		t.Errorf("decision %q keyid %q", st.Predicate.Decision, env.Signatures[0].KeyID)
	}

	// A subject without a digest says nothing: refused, not signed.
	is.Extra = func(*approval.Request) []Subject { return []Subject{{Name: "x"}} }
	if _, err := is.Issue(r); approval.KindOf(err) != approval.KindInternal {
		t.Errorf("an extra subject without a digest: %v, want an internal error", err)
	}
	is.Extra = nil
	r.Status = approval.StatusPending
	if _, err := is.Issue(r); approval.KindOf(err) != approval.KindConflict {
		t.Errorf("an undecided request: %v, want a conflict", err)
	}
}

func TestVerify_ATamperedDecisionFails(t *testing.T) {
	t.Parallel()
	_, _, ks, env := setup(t)
	forged := editPayload(t, env, func(m map[string]any) {
		m["predicate"].(map[string]any)["decision"] = "rejected"
	})
	if _, err := ks.Verify(forged); !errors.Is(err, ErrSignature) {
		t.Errorf("a receipt whose decision was changed: %v, want ErrSignature", err)
	}
}

// BenchmarkIssue measures a receipt as the server makes one on every GET:
// Build (canonical payload and policy, subjects) and Sign.
func BenchmarkIssue(b *testing.B) {
	s, ks, err := ParseKeys([]byte(pemPrivate(b, key(5))))
	if err != nil {
		b.Fatal(err)
	}
	is := &Issuer{Signer: s, Keys: ks}
	r := decidedRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.Issue(r); err != nil {
			b.Fatal(err)
		}
	}
}
