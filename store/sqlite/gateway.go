package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"approvald/approval"
)

// gatewayCallColumns are the columns of gateway_calls in the order
// scanGatewayCall reads them.
const gatewayCallColumns = `id, at, caller, route, project_name, start_time,
	upstream_status, status, duration_us, detail, approval_request`

// RecordGatewayCalls normalizes each of calls (see
// approval.GatewayCall.Normalize), appends them in order to the gateway
// call log in one transaction and sets each one's ID, which is above the id
// of every call recorded before it. It returns an internal *approval.Error
// when the database fails; then no call is recorded.
func (s *Store) RecordGatewayCalls(ctx context.Context, calls []*approval.GatewayCall) error {
	if len(calls) == 0 {
		return nil
	}
	ids := make([]int64, len(calls))
	err := s.write(ctx, "record gateway calls", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `
			INSERT INTO gateway_calls (at, caller, route, project_name, start_time,
				upstream_status, status, duration_us, detail, approval_request)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			RETURNING id`)
		if err != nil {
			return internal("record gateway calls", err)
		}
		defer stmt.Close()
		for i, c := range calls {
			c.Normalize()
			err := stmt.QueryRowContext(ctx,
				micros(c.At), c.Caller, c.Route, c.ProjectName, c.StartTime,
				c.UpstreamStatus, c.Status, c.DurationMicros, c.Detail, c.ApprovalRequest,
			).Scan(&ids[i])
			if err != nil {
				return internal("record gateway calls", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, c := range calls {
		c.ID = ids[i]
	}
	return nil
}

// ListGatewayCalls returns up to f.Limit (by default 50) gateway calls
// matching f, newest (highest id) first, with ids below f.Before when it is
// positive. A project, or a project and a start time, is a range of
// gateway_calls_run; the unfiltered list walks the primary key down. It
// returns an internal *approval.Error when the database fails.
func (s *Store) ListGatewayCalls(ctx context.Context, f approval.GatewayCallFilter) ([]approval.GatewayCall, error) {
	query, args := gatewayCallsQuery(f)
	return queryAll(ctx, s.reader, "list gateway calls", scanGatewayCall, query, args...)
}

// gatewayCallsQuery returns the query of ListGatewayCalls for f, with its
// arguments.
func gatewayCallsQuery(f approval.GatewayCallFilter) (string, []any) {
	var where []string
	var args []any
	if f.ProjectName != "" {
		where = append(where, "project_name = ?")
		args = append(args, f.ProjectName)
	}
	if f.StartTime != "" {
		where = append(where, "start_time = ?")
		args = append(args, f.StartTime)
	}
	if f.Before > 0 {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	query := "SELECT " + gatewayCallColumns + " FROM gateway_calls"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT ?"
	return query, append(args, limitOr(f.Limit, defaultListLimit))
}

// scanGatewayCall reads one row of gatewayCallColumns.
func scanGatewayCall(row scanner) (approval.GatewayCall, error) {
	var (
		c  approval.GatewayCall
		at int64
	)
	err := row.Scan(&c.ID, &at, &c.Caller, &c.Route, &c.ProjectName, &c.StartTime,
		&c.UpstreamStatus, &c.Status, &c.DurationMicros, &c.Detail, &c.ApprovalRequest)
	c.At = fromMicros(at)
	return c, err
}
