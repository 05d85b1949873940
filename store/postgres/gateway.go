package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"approvald/approval"
)

// gatewayCallColumns are the columns of gateway_calls in the order
// scanGatewayCall reads them.
const gatewayCallColumns = `id, at, caller, route, project_name, start_time,
	upstream_status, status, duration_us, detail, approval_request`

// RecordGatewayCalls normalizes each of calls (see
// approval.GatewayCall.Normalize), appends them in order to the gateway
// call log in one transaction (one round trip) and sets each one's ID,
// which is above the id of every call recorded before it. Calls recorded
// concurrently may commit out of id order. It returns an internal
// *approval.Error when the database fails; then no call is recorded.
func (s *Store) RecordGatewayCalls(ctx context.Context, calls []*approval.GatewayCall) error {
	if len(calls) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	ids := make([]int64, len(calls))
	for i, c := range calls {
		c.Normalize()
		b.Queue(`
			INSERT INTO gateway_calls (at, caller, route, project_name, start_time,
				upstream_status, status, duration_us, detail, approval_request)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			RETURNING id`,
			c.At, c.Caller, c.Route, c.ProjectName, c.StartTime,
			c.UpstreamStatus, c.Status, c.DurationMicros, c.Detail, c.ApprovalRequest,
		).QueryRow(func(row pgx.Row) error { return row.Scan(&ids[i]) })
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	if err != nil {
		return internal("record gateway calls", err)
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
	return queryAll(ctx, s.pool, "list gateway calls", scanGatewayCall, query, args...)
}

// gatewayCallsQuery returns the query of ListGatewayCalls for f, with its
// arguments.
func gatewayCallsQuery(f approval.GatewayCallFilter) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.ProjectName != "" {
		where = append(where, "project_name = "+arg(f.ProjectName))
	}
	if f.StartTime != "" {
		where = append(where, "start_time = "+arg(f.StartTime))
	}
	if f.Before > 0 {
		where = append(where, "id < "+arg(f.Before))
	}
	query := "SELECT " + gatewayCallColumns + " FROM gateway_calls"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id DESC LIMIT " + arg(limitOr(f.Limit, defaultListLimit))
	return query, args
}

// scanGatewayCall reads one row of gatewayCallColumns.
func scanGatewayCall(row scanner) (approval.GatewayCall, error) {
	var c approval.GatewayCall
	err := row.Scan(&c.ID, &c.At, &c.Caller, &c.Route, &c.ProjectName, &c.StartTime,
		&c.UpstreamStatus, &c.Status, &c.DurationMicros, &c.Detail, &c.ApprovalRequest)
	c.At = c.At.UTC()
	return c, err
}
