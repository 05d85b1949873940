package sqlstore

import (
	"context"

	"approvald/gateway/calllog"
)

// RecordGatewayCalls implements [calllog.Log.RecordGatewayCalls] in one
// round trip on PostgreSQL, where calls recorded concurrently may commit
// out of id order. When it fails, no call is recorded.
func (s *Store) RecordGatewayCalls(ctx context.Context, calls []*calllog.Record) error {
	if len(calls) == 0 {
		return nil
	}
	ids := make([]int64, len(calls))
	stmts := make([]Stmt, len(calls))
	for i, c := range calls {
		c.Normalize()
		stmts[i] = Stmt{SQL: `
			INSERT INTO gateway_calls (at, caller, route, project_name, start_time,
				upstream_status, status, duration_us, detail, approval_request)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			RETURNING id`,
			Args: []any{c.At, c.Caller, c.Route, c.ProjectName, c.StartTime,
				c.UpstreamStatus, c.Status, c.DurationMicros, c.Detail, c.ApprovalRequest},
			Dest: []any{&ids[i]},
		}
	}
	if _, err := s.db.WriteBatch(ctx, "record gateway calls", stmts); err != nil {
		return s.fail("record gateway calls", err)
	}
	for i, c := range calls {
		c.ID = ids[i]
	}
	return nil
}

// ListGatewayCalls implements [calllog.Log.ListGatewayCalls]: a project,
// or a project and a start time, is a range of gateway_calls_run; the
// unfiltered list walks the primary key down.
func (s *Store) ListGatewayCalls(ctx context.Context, f calllog.Filter) ([]calllog.Record, error) {
	query, args := s.d.GatewayCallsQuery(f)
	return queryAll(ctx, s, s.db, "list gateway calls", func(row Row, c *calllog.Record) error {
		return row.Scan(&c.ID, s.d.Time(&c.At), &c.Caller, &c.Route, &c.ProjectName, &c.StartTime,
			&c.UpstreamStatus, &c.Status, &c.DurationMicros, &c.Detail, &c.ApprovalRequest)
	}, query, args...)
}

// GatewayCallsQuery returns the statement of ListGatewayCalls for f, with
// its arguments.
func (d *Dialect) GatewayCallsQuery(f calllog.Filter) (string, []any) {
	var q Query
	q.Cond(f.ProjectName != "", "project_name =", f.ProjectName)
	q.Cond(f.StartTime != "", "start_time =", f.StartTime)
	q.Cond(f.Before > 0, "id <", f.Before)
	limit := q.Add(Limit(f.Limit))
	return `SELECT id, at, caller, route, project_name, start_time,
		upstream_status, status, duration_us, detail, approval_request FROM gateway_calls` +
		q.Where() + " ORDER BY id DESC LIMIT " + limit, q.Args
}
