package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"approvald/approval"
)

// ruleColumns are the columns of service_rules in the order scanRule reads
// them; ruleMutable those that ruleValues writes.
const (
	ruleColumns = "id, name, created_at, " + ruleMutable
	ruleMutable = "url, format, secret, api_key, timeout_ms, max_attempts, headers, policy, updated_at"
)

// CreateServiceRule stores the new rule r and sets r.ID to a number never
// handed out before. It keeps r's times at store precision, filling a zero
// CreatedAt with the current time and a zero UpdatedAt with CreatedAt, and
// makes nil headers empty, so that r is as it reads back. It returns a
// KindInvalid *approval.Error when r names a policy that is not stored; a
// KindConflict one when a rule of the same name exists (or is being created
// concurrently, and then commits); and an internal one when the database
// fails.
func (s *Store) CreateServiceRule(ctx context.Context, r *approval.ServiceRule) error {
	const op = "create service rule"
	r.Normalize(time.Now())
	values, err := ruleValues(r)
	if err != nil {
		return s.fail(op, err)
	}
	var id int64
	err = s.change(ctx, op, func(tx Tx) error {
		if err := s.checkRulePolicy(ctx, tx, r); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, "INSERT INTO service_rules ("+ruleMutable+", name, created_at) VALUES ("+params(11)+
			") ON CONFLICT (name) DO NOTHING RETURNING id", append(values, r.Name, r.CreatedAt)...).Scan(&id)
		if noRows(err) {
			return approval.Errorf(approval.KindConflict, approval.CodeConflict, "a service rule named %q exists", r.Name)
		}
		return s.fail(op, err)
	})
	if err == nil {
		r.ID = id
	}
	return err
}

// GetServiceRule returns the rule named name. It returns a KindNotFound
// *approval.Error when there is none, and an internal one when the database
// fails.
func (s *Store) GetServiceRule(ctx context.Context, name string) (*approval.ServiceRule, error) {
	return s.getRule(ctx, s.db, "name = $1", name)
}

// GetServiceRuleByID returns the rule numbered id. It returns a KindNotFound
// *approval.Error when there is none, and an internal one when the database
// fails.
func (s *Store) GetServiceRuleByID(ctx context.Context, id int64) (*approval.ServiceRule, error) {
	return s.getRule(ctx, s.db, "id = $1", id)
}

// ListServiceRules returns every rule in the order of their ids. It returns
// an internal *approval.Error when the database fails.
func (s *Store) ListServiceRules(ctx context.Context) ([]approval.ServiceRule, error) {
	return queryAll(ctx, s, s.db, "list service rules", s.scanRule, "SELECT "+ruleColumns+" FROM service_rules ORDER BY id")
}

// UpdateServiceRule loads the rule named name, locking its row, and calls
// fn with it, in one write transaction; unless fn returns an error, it
// stores the rule as fn left it (normalized as by CreateServiceRule) and
// returns it. After a conflict the transaction may run again, fn included.
// It returns fn's error unchanged; a KindNotFound *approval.Error for an
// unknown name; a KindInvalid one when the rule names a policy that is not
// stored; and an internal one when fn changed the rule's id, name or
// creation time, or the database fails.
func (s *Store) UpdateServiceRule(ctx context.Context, name string, fn func(*approval.ServiceRule) error) (*approval.ServiceRule, error) {
	const op = "update service rule"
	var out *approval.ServiceRule
	err := s.change(ctx, op, func(tx Tx) error {
		out = nil
		r, err := s.getRule(ctx, tx, "name = $1"+s.lock("UPDATE"), name)
		if err != nil {
			return err
		}
		id, createdAt := r.ID, r.CreatedAt
		if err := fn(r); err != nil {
			return err
		}
		if r.ID != id || r.Name != name || !r.CreatedAt.Equal(createdAt) {
			return s.fail(op, fmt.Errorf("rule %q: its id, name and creation time cannot change", name))
		}
		r.Normalize(time.Now())
		if err := s.checkRulePolicy(ctx, tx, r); err != nil {
			return err
		}
		values, err := ruleValues(r)
		if err != nil {
			return s.fail(op, err)
		}
		_, err = tx.Exec(ctx, "UPDATE service_rules SET ("+ruleMutable+") = ("+params(9)+") WHERE id = $10", append(values, id)...)
		out = r
		return s.fail(op, err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteServiceRule deletes the rule named name. It returns a KindConflict
// *approval.Error while a request that is not in a final status names the
// rule, and deletes nothing then; a KindNotFound one for an unknown name;
// and an internal one when the database fails.
func (s *Store) DeleteServiceRule(ctx context.Context, name string) error {
	const op = "delete service rule"
	return s.change(ctx, op, func(tx Tx) error {
		n, err := tx.Exec(ctx, "DELETE FROM service_rules WHERE name = $1", name)
		switch {
		case err != nil:
			return s.fail(op, err)
		case n == 0:
			return approval.NotFound("service rule")
		}
		// 3, 4, 5 and 9 are the final statuses.
		var users int
		err = tx.QueryRow(ctx,
			"SELECT count(*) FROM approvals WHERE service_rule = $1 AND status NOT IN (3, 4, 5, 9)", name,
		).Scan(&users)
		switch {
		case err != nil:
			return s.fail(op, err)
		case users > 0:
			return approval.Errorf(approval.KindConflict, approval.CodeConflict,
				"the service rule %q is named by %d request(s) not in a final status; it can be deleted once they are final", name, users)
		}
		return nil
	})
}

// ruleValues are the stored values of r's ruleMutable columns. The timeout
// is kept in milliseconds; headers go as a JSON string.
func ruleValues(r *approval.ServiceRule) ([]any, error) {
	headers, err := json.Marshal(r.Headers)
	if err != nil {
		return nil, fmt.Errorf("rule %q: headers: %w", r.Name, err)
	}
	return []any{
		r.URL, string(r.Format), r.Secret, r.APIKey, r.Timeout.Milliseconds(), r.MaxAttempts,
		string(headers), r.Policy, r.UpdatedAt,
	}, nil
}

// checkRulePolicy returns a KindInvalid *approval.Error when rule r names a
// policy that is not stored, and an internal one when the database fails.
// Where transactions run concurrently it locks the policy's row (FOR KEY
// SHARE) until tx ends: DeletePolicy waits for it and then finds the rule; a
// policy being deleted is waited for and, once gone, not found. With one
// writer, no policy can be deleted before tx commits.
func (s *Store) checkRulePolicy(ctx context.Context, tx Tx, r *approval.ServiceRule) error {
	if r.Policy == "" {
		return nil
	}
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM policies WHERE name = $1"+s.lock("KEY SHARE"), r.Policy).Scan(&one)
	if noRows(err) {
		var v approval.Validation
		v.Add("policy", "there is no stored policy %q", r.Policy)
		return v.Err()
	}
	return s.fail("check service rule policy", err)
}

// getRule reads the rule selected by where, with its one argument arg,
// through q; where may end in a locking clause.
func (s *Store) getRule(ctx context.Context, q Querier, where string, arg any) (*approval.ServiceRule, error) {
	var r approval.ServiceRule
	if err := s.scanRule(q.QueryRow(ctx, "SELECT "+ruleColumns+" FROM service_rules WHERE "+where, arg), &r); err != nil {
		return nil, s.found("get service rule", "service rule", err)
	}
	return &r, nil
}

// scanRule reads one row of ruleColumns into r.
func (s *Store) scanRule(row Row, r *approval.ServiceRule) error {
	var (
		format, headers string
		timeoutMS       int64
	)
	err := row.Scan(&r.ID, &r.Name, s.d.Time(&r.CreatedAt), &r.URL, &format, &r.Secret, &r.APIKey, &timeoutMS,
		&r.MaxAttempts, &headers, &r.Policy, s.d.Time(&r.UpdatedAt))
	if err != nil {
		return err
	}
	r.Format = approval.RuleFormat(format)
	r.Timeout = time.Duration(timeoutMS) * time.Millisecond
	if err := unmarshal("headers", &headers, &r.Headers); err != nil {
		return fmt.Errorf("rule %q: %w", r.Name, err)
	}
	return nil
}
