package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"approvald/approval"
	"approvald/gateway/calllog"
)

func TestListApprovals_BySubjectReadsSubjectIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	for name, f := range map[string]approval.Filter{
		"subject":                {Subject: "cr8tor:p/1"},
		"subject and status":     {Subject: "cr8tor:p/1", Statuses: []approval.Status{approval.StatusPending}, Before: "x"},
		"subject and statuses":   {Subject: "cr8tor:p/1", Statuses: []approval.Status{approval.StatusPending, approval.StatusApproved}},
		"subject and requester":  {Subject: "cr8tor:p/1", Requester: "user:alice"},
		"every filter at a time": {Subject: "cr8tor:p/1", Requester: "user:alice", ServiceRule: "r", Statuses: []approval.Status{approval.StatusPending}},
	} {
		query, args := listQuery(f)
		if got := explain(t, s.reader, query, args...); !strings.Contains(got, "USING INDEX approvals_subject (subject=?") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%s: the list does not read approvals_subject in order; plan:\n%s", name, got)
		}
	}
}

func TestListGatewayCalls_ReadsIndexesInOrder(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	for name, tc := range map[string]struct {
		filter calllog.Filter
		want   string
	}{
		"all":                   {calllog.Filter{}, "SCAN gateway_calls"},
		"all, before":           {calllog.Filter{Before: 10}, "SEARCH gateway_calls USING INTEGER PRIMARY KEY (rowid<?)"},
		"run":                   {calllog.Filter{ProjectName: "p", StartTime: "s"}, "USING INDEX gateway_calls_run (project_name=? AND start_time=?)"},
		"run, before and limit": {calllog.Filter{ProjectName: "p", StartTime: "s", Before: 10, Limit: 5}, "USING INDEX gateway_calls_run (project_name=? AND start_time=? AND id<?)"},
	} {
		query, args := dialect.GatewayCallsQuery(tc.filter)
		got := explain(t, s.reader, query, args...)
		if !strings.Contains(got, tc.want) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%s: the list does not %s in order; plan:\n%s", name, tc.want, got)
		}
	}
	// A project alone is a range of the index, sorted.
	query, args := dialect.GatewayCallsQuery(calllog.Filter{ProjectName: "p"})
	if got := explain(t, s.reader, query, args...); !strings.Contains(got, "INDEX gateway_calls_run (project_name=?)") {
		t.Errorf("the calls of a project are not a range of gateway_calls_run; plan:\n%s", got)
	}
}
