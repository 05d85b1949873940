package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
)

// testMalformedID looks requests and keys up by strings that are not ids in
// the canonical form the stores hand out — garbage, and other spellings of
// a stored id — and finds nothing: a store that keeps ids as UUIDs must not
// fail on them, nor match them to the stored id.
func testMalformedID(t *testing.T, s Store) {
	r := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	key := approval.APIKey{
		ID: newID(t), Name: "billing", Prefix: "apd_bil", Hash: "hash-billing",
		Scopes: []approval.Scope{approval.ScopeCreate}, Groups: []string{}, CreatedAt: t0,
	}
	if err := s.CreateAPIKey(t.Context(), key); err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	spellings := func(id string) []string {
		return []string{
			strings.ToUpper(id),
			"{" + id + "}",
			"urn:uuid:" + id,
			strings.ReplaceAll(id, "-", ""),
			id + " ",
		}
	}
	for _, id := range append([]string{"", "not-a-uuid", "1", "'; DROP TABLE approvals; --"}, spellings(r.ID)...) {
		_, err := s.GetApproval(t.Context(), id)
		wantKind(t, "GetApproval("+id+")", err, approval.KindNotFound)

		called := false
		_, err = s.UpdateApproval(t.Context(), id, func(r *approval.Request) (approval.Change, error) {
			called = true
			return r.Edit(alice, approval.Patch{Comment: approval.Some("x")}, nil, at(time.Minute))
		})
		wantKind(t, "UpdateApproval("+id+")", err, approval.KindNotFound)
		if called {
			t.Errorf("UpdateApproval(%s) called fn", id)
		}

		_, err = s.History(t.Context(), id)
		wantKind(t, "History("+id+")", err, approval.KindNotFound)
	}
	for _, id := range append([]string{"", "not-a-uuid"}, spellings(key.ID)...) {
		wantKind(t, "RevokeAPIKey("+id+")", s.RevokeAPIKey(t.Context(), id, at(time.Hour)), approval.KindNotFound)
	}
	unchanged(t, s, r, 1, 1)
	if _, err := s.APIKeyByHash(t.Context(), key.Hash); err != nil {
		t.Errorf("the key was revoked through another spelling of its id: APIKeyByHash = %v", err)
	}
}

// testListCursorNotStored pages from cursors that are valid ids but not the
// id of a stored request, as when the request a client paged past is gone:
// the list continues below the cursor all the same.
func testListCursorNotStored(t *testing.T, s Store) {
	older := []string{
		create(t, s, alice, approval.Draft{}, approval.DefaultPolicy()).ID,
		create(t, s, alice, approval.Draft{}, approval.DefaultPolicy()).ID,
	}
	between := newID(t)
	newer := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy()).ID
	slices.Sort(older)
	slices.Reverse(older)

	tests := []struct {
		name   string
		before string
		want   []string
	}{
		{"between two ids", between, older},
		{"above every id", "ffffffff-ffff-ffff-ffff-ffffffffffff", append([]string{newer}, older...)},
		{"below every id", uuid.Nil.String(), nil},
	}
	for _, tc := range tests {
		got, err := s.ListApprovals(t.Context(), approval.Filter{Before: tc.before})
		if err != nil {
			t.Fatalf("%s: ListApprovals: %v", tc.name, err)
		}
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("%s: ListApprovals(before %s) = %v, want %v", tc.name, tc.before, ids(got), tc.want)
		}
	}
}
