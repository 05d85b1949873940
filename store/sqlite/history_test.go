package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

func TestListHistory_ReadsIndexesInOrder(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	const id = "0190a5f0-0000-7000-8000-000000000001"
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		filter approval.HistoryFilter
		want   string
		sorted bool // a sort is fine: a request has few entries
	}{
		"all":                       {approval.HistoryFilter{}, "SCAN history", false},
		"all, after":                {approval.HistoryFilter{After: 10}, "SEARCH history USING INTEGER PRIMARY KEY (rowid>?)", false},
		"action, since and until":   {approval.HistoryFilter{Action: approval.ActionApprove, Since: since, Until: since.Add(time.Hour), After: 10}, "SEARCH history USING INTEGER PRIMARY KEY (rowid>?)", false},
		"actor":                     {approval.HistoryFilter{Actor: "user:alice"}, "SEARCH history USING INDEX history_actor (actor=?)", false},
		"actor, after":              {approval.HistoryFilter{Actor: "user:alice", After: 10, Limit: 5}, "SEARCH history USING INDEX history_actor (actor=? AND id>?)", false},
		"actor, action and since":   {approval.HistoryFilter{Actor: "user:alice", Action: approval.ActionReject, Since: since, After: 10}, "SEARCH history USING INDEX history_actor (actor=? AND id>?)", false},
		"request":                   {approval.HistoryFilter{RequestID: id}, "USING INDEX sqlite_autoindex_history_1 (request_id=?)", true},
		"request and actor":         {approval.HistoryFilter{RequestID: id, Actor: "svc:ops"}, "USING INDEX sqlite_autoindex_history_1 (request_id=?)", true},
		"request, after and action": {approval.HistoryFilter{RequestID: id, After: 10, Action: approval.ActionComment}, "USING INDEX sqlite_autoindex_history_1 (request_id=?)", true},
	} {
		query, args := dialect.HistoryQuery(tc.filter)
		got := explain(t, s.reader, query, args...)
		if !strings.Contains(got, tc.want) || (!tc.sorted && strings.Contains(got, "TEMP B-TREE")) {
			t.Errorf("%s: the list does not %s in order; plan:\n%s", name, tc.want, got)
		}
	}
}

func TestHistoryChains_WalksApprovalsAndLooksUpEachRequest(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	for name, tc := range map[string]struct {
		filter approval.ChainFilter
		want   string
	}{
		"first batch": {approval.ChainFilter{Limit: 500}, "SEARCH approvals USING INDEX sqlite_autoindex_approvals_1 (id>?)"},
		"next batch":  {approval.ChainFilter{After: "0190a5f0-0000-7000-8000-000000000001", Limit: 500}, "SEARCH approvals USING INDEX sqlite_autoindex_approvals_1 (id>?)"},
		"one request": {approval.ChainFilter{RequestID: "0190a5f0-0000-7000-8000-000000000001"}, "SEARCH approvals USING INDEX sqlite_autoindex_approvals_1 (id=?)"},
	} {
		query, args := chainsStatement(tc.filter)
		got := explain(t, s.reader, query, args...)
		// Sorting each request's few entries by seq is fine; sorting the
		// batch by request id is not needed, nor is reading history whole.
		if !strings.Contains(got, tc.want) || !strings.Contains(got, "SEARCH h USING INDEX sqlite_autoindex_history_1 (request_id=?)") ||
			strings.Contains(got, "SCAN h") || strings.Contains(got, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("%s: the batch is not a walk of approvals with a lookup of each request's entries; plan:\n%s", name, got)
		}
	}
}
