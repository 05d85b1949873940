package postgres

import (
	"errors"
	"testing"

	"approvald/approval"
	"approvald/store/postgres/pgtest"
)

// A database that stops answering is KindUnavailable with a Retry-After
// (503 to clients, which retry it), never an internal error; reads, writes
// and the readiness ping alike.
func TestOutage_UnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	dsn, outage := pgtest.URLWithOutage(t)
	s := open(t, dsn)
	r, ch := newRequest(t, "before the outage")
	if _, err := s.CreateApproval(t.Context(), r, ch, nil); err != nil {
		t.Fatal(err)
	}
	outage.Cut()

	r2, ch2 := newRequest(t, "during the outage")
	_, createErr := s.CreateApproval(t.Context(), r2, ch2, nil)
	_, getErr := s.GetApproval(t.Context(), r.ID)
	for name, err := range map[string]error{"ping": s.Ping(t.Context()), "create": createErr, "get": getErr} {
		var e *approval.Error
		if !errors.As(err, &e) || e.Kind != approval.KindUnavailable || e.Code != approval.CodeUnavailable || e.RetryAfter <= 0 {
			t.Errorf("%s during the outage: %#v, want KindUnavailable with a Retry-After", name, err)
		}
	}
}
