package storetest

import (
	"slices"
	"testing"
	"time"

	"approvald/approval"
)

// testListByDeadline checks the order (deadline ascending, none last, ties
// by id), the status filter and offset/limit paging.
func testListByDeadline(t *testing.T, s Store) {
	withDeadline := func(d time.Duration) approval.Draft {
		deadline := at(d)
		return approval.Draft{Deadline: &deadline}
	}
	late := create(t, s, alice, withDeadline(3*time.Hour), approval.DefaultPolicy())
	none1 := create(t, s, alice, approval.Draft{}, approval.DefaultPolicy())
	early := create(t, s, bob, withDeadline(time.Hour), approval.DefaultPolicy())
	tieA := create(t, s, alice, withDeadline(2*time.Hour), approval.DefaultPolicy())
	tieB := create(t, s, alice, withDeadline(2*time.Hour), approval.DefaultPolicy())
	none2 := create(t, s, bob, approval.Draft{}, approval.DefaultPolicy())
	cancelled := create(t, s, alice, withDeadline(30*time.Minute), approval.DefaultPolicy())
	step(t, s, cancelled, cancelOp(alice, at(time.Minute)))

	ties := []string{tieA.ID, tieB.ID}
	slices.Sort(ties)
	nones := []string{none1.ID, none2.ID}
	slices.Sort(nones)
	pending := append(append(append([]string{early.ID}, ties...), late.ID), nones...)
	all := append([]string{cancelled.ID}, pending...)

	list := func(statuses []approval.Status, offset, limit int) []string {
		t.Helper()
		got, err := s.ListByDeadline(t.Context(), statuses, offset, limit)
		if err != nil {
			t.Fatalf("ListByDeadline: %v", err)
		}
		return ids(got)
	}
	if got := list(nil, 0, 50); !slices.Equal(got, all) {
		t.Errorf("all = %v, want %v", got, all)
	}
	if got := list([]approval.Status{approval.StatusPending}, 0, 50); !slices.Equal(got, pending) {
		t.Errorf("pending = %v, want %v", got, pending)
	}
	if got := list([]approval.Status{approval.StatusPending}, 2, 3); !slices.Equal(got, pending[2:5]) {
		t.Errorf("pending offset 2 limit 3 = %v, want %v", got, pending[2:5])
	}
	if got := list([]approval.Status{approval.StatusCancelled, approval.StatusApproved}, 0, 50); !slices.Equal(got, []string{cancelled.ID}) {
		t.Errorf("cancelled or approved = %v", got)
	}
	if got := list(nil, 10, 5); len(got) != 0 {
		t.Errorf("offset past the end = %v", got)
	}
}
