package postgres

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"approvald/approval"
	"approvald/gateway/calllog"
	"approvald/store/postgres/pgtest"
)

// explainGeneric returns the generic plan of query, the plan of a prepared
// statement that does not look at its arguments, as EXPLAIN EXECUTE shows
// it run with the SQL literals args.
func explainGeneric(t *testing.T, s *Store, query string, args ...string) string {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	for _, stmt := range []string{
		"SET LOCAL enable_seqscan = off",
		"SET LOCAL plan_cache_mode = force_generic_plan",
		"PREPARE generic AS " + query,
	} {
		if _, err := tx.Exec(t.Context(), stmt); err != nil {
			t.Fatal(err)
		}
	}
	defer tx.Exec(t.Context(), "DEALLOCATE generic")
	rows, err := tx.Query(t.Context(), "EXPLAIN EXECUTE generic("+strings.Join(args, ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

func TestListApprovals_BySubjectReadsSubjectIndex(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	for name, f := range map[string]approval.Filter{
		"subject":              {Subject: "cr8tor:p/1"},
		"subject and statuses": {Subject: "cr8tor:p/1", Statuses: []approval.Status{approval.StatusPending, approval.StatusApproved}},
	} {
		query, args := listQuery(f)
		if got := explain(t, s, query, args...); !strings.Contains(got, "using approvals_subject") || strings.Contains(got, "Sort") {
			t.Errorf("%s: the list does not read approvals_subject in order; plan:\n%s", name, got)
		}
	}
	// A prepared statement's generic plan cannot tell that a parameter is
	// not '': the list says so itself.
	query, _ := listQuery(approval.Filter{Subject: "cr8tor:p/1"})
	if got := explainGeneric(t, s, query, "'cr8tor:p/1'", "50"); !strings.Contains(got, "using approvals_subject") || strings.Contains(got, "Sort") {
		t.Errorf("the generic plan of a list by subject does not read approvals_subject in order; plan:\n%s", got)
	}
}

func TestListGatewayCalls_ReadsIndexesInOrder(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	for name, tc := range map[string]struct {
		filter calllog.Filter
		want   string
	}{
		"all":                   {calllog.Filter{}, "Index Scan Backward using gateway_calls_pkey"},
		"all, before":           {calllog.Filter{Before: 10}, "Index Scan Backward using gateway_calls_pkey"},
		"run":                   {calllog.Filter{ProjectName: "p", StartTime: "s"}, "Index Scan using gateway_calls_run"},
		"run, before and limit": {calllog.Filter{ProjectName: "p", StartTime: "s", Before: 10, Limit: 5}, "Index Scan using gateway_calls_run"},
	} {
		query, args := dialect.GatewayCallsQuery(tc.filter)
		got := explainWith(t, s, []string{"enable_seqscan", "enable_bitmapscan"}, query, args...)
		if !strings.Contains(got, tc.want) || strings.Contains(got, "Sort") {
			t.Errorf("%s: the list does not read %s in order; plan:\n%s", name, tc.want, got)
		}
	}
}
