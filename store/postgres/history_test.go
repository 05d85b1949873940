package postgres

import (
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/store/postgres/pgtest"
)

func TestListHistory_ReadsIndexesInOrder(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	const id = "0190a5f0-0000-7000-8000-000000000001"
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		filter approval.HistoryFilter
		want   string
		sorted bool // a Sort is fine: a request has few entries
	}{
		"all":                       {approval.HistoryFilter{}, "Index Scan using history_pkey", false},
		"all, after":                {approval.HistoryFilter{After: 10}, "Index Scan using history_pkey", false},
		"action, since and until":   {approval.HistoryFilter{Action: approval.ActionApprove, Since: since, Until: since.Add(time.Hour), After: 10}, "Index Scan using history_pkey", false},
		"actor":                     {approval.HistoryFilter{Actor: "user:alice"}, "Index Scan using history_actor", false},
		"actor, after":              {approval.HistoryFilter{Actor: "user:alice", After: 10, Limit: 5}, "Index Scan using history_actor", false},
		"actor, action and since":   {approval.HistoryFilter{Actor: "user:alice", Action: approval.ActionReject, Since: since, After: 10}, "Index Scan using history_actor", false},
		"request":                   {approval.HistoryFilter{RequestID: id}, "using history_request_seq", true},
		"request, after and action": {approval.HistoryFilter{RequestID: id, After: 10, Action: approval.ActionComment}, "using history_request_seq", true},
	} {
		query, args := dialect.HistoryQuery(tc.filter)
		got := explainWith(t, s, []string{"enable_seqscan", "enable_bitmapscan"}, query, args...)
		if !strings.Contains(got, tc.want) || (!tc.sorted && strings.Contains(got, "Sort")) {
			t.Errorf("%s: the list does not read %s in order; plan:\n%s", name, tc.want, got)
		}
	}
	// The plan a prepared statement settles on, not knowing the actor.
	query, _ := dialect.HistoryQuery(approval.HistoryFilter{Actor: "user:alice", After: 10})
	if got := explainGeneric(t, s, query, "'user:alice'", "10", "50"); !strings.Contains(got, "Index Scan using history_actor") || strings.Contains(got, "Sort") {
		t.Errorf("the generic plan of a list by actor does not read history_actor in order; plan:\n%s", got)
	}
}

func TestHistoryChains_NestedLoopOverIndexes(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	const id = "0190a5f0-0000-7000-8000-000000000001"
	check := func(name, plan string) {
		t.Helper()
		// A merge join would read history_request_seq from its start for
		// every batch: quadratic over a walk of every request.
		if !strings.Contains(plan, "Nested Loop Left Join") || !strings.Contains(plan, "approvals_pkey") ||
			!strings.Contains(plan, "history_request_seq") || strings.Contains(plan, "Merge") || strings.Contains(plan, "Hash") {
			t.Errorf("%s: the batch is not a walk of approvals_pkey with a lookup in history_request_seq per request; plan:\n%s", name, plan)
		}
	}
	for name, f := range map[string]approval.ChainFilter{
		"first batch": {Limit: 500},
		"next batch":  {After: id, Limit: 500},
		"one request": {RequestID: id},
	} {
		query, args := chainsStatement(f)
		check(name, explainWith(t, s, []string{"enable_seqscan", "enable_bitmapscan"}, query, args...))
	}
	query, _ := chainsStatement(approval.ChainFilter{After: id})
	check("generic plan", explainGeneric(t, s, query, "500", "'"+id+"'"))
}
