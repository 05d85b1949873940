package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"approvald/approval"
)

// policyColumns are the columns of policies in the order scanPolicy reads them.
const policyColumns = "name, description, policy, version, created_at, updated_at"

// CreatePolicy stores the new policy p at version 1, setting p.Version, and
// keeps p's times at store precision, so that p is as it reads back. It
// returns a KindConflict *approval.Error when a policy of the same name
// exists, and an internal one when the database fails.
func (s *Store) CreatePolicy(ctx context.Context, p *approval.StoredPolicy) error {
	p.Version = 1
	p.CreatedAt, p.UpdatedAt = approval.TruncateTime(p.CreatedAt), approval.TruncateTime(p.UpdatedAt)
	values, err := policyValues(p)
	if err != nil {
		return internal("create policy", err)
	}
	return s.change(ctx, "create policy", func(tx *sql.Tx) error {
		n, err := execTx(ctx, tx, "create policy", `
			INSERT INTO policies (description, policy, version, updated_at, name, created_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO NOTHING`,
			append(values, p.Name, micros(p.CreatedAt))...)
		switch {
		case err != nil:
			return err
		case n == 0:
			return approval.Errorf(approval.KindConflict, approval.CodeConflict, "a policy named %q exists", p.Name)
		}
		return nil
	})
}

// GetPolicy returns the policy named name. It returns a KindNotFound
// *approval.Error when there is none, and an internal one when the database
// fails.
func (s *Store) GetPolicy(ctx context.Context, name string) (*approval.StoredPolicy, error) {
	return getPolicy(ctx, s.reader, name)
}

// ListPolicies returns every policy in the order of their names. It returns
// an internal *approval.Error when the database fails.
func (s *Store) ListPolicies(ctx context.Context) ([]approval.StoredPolicy, error) {
	return queryAll(ctx, s.reader, "list policies", scanPolicy,
		"SELECT "+policyColumns+" FROM policies ORDER BY name")
}

// UpdatePolicy loads the policy named name and calls fn with it, in one
// write transaction; unless fn returns an error, it stores the policy as fn
// left it, one version above the loaded one and with its times at store
// precision, and returns it. It returns fn's error unchanged; a KindNotFound
// *approval.Error for an unknown name; and an internal one when fn changed
// the policy's name or creation time, or the database fails.
func (s *Store) UpdatePolicy(ctx context.Context, name string, fn func(*approval.StoredPolicy) error) (*approval.StoredPolicy, error) {
	var out *approval.StoredPolicy
	err := s.change(ctx, "update policy", func(tx *sql.Tx) error {
		p, err := getPolicy(ctx, tx, name)
		if err != nil {
			return err
		}
		version, createdAt := p.Version, p.CreatedAt
		if err := fn(p); err != nil {
			return err
		}
		if p.Name != name || !p.CreatedAt.Equal(createdAt) {
			return internal("update policy", fmt.Errorf("policy %q: its name and creation time cannot change", name))
		}
		p.Version = version + 1
		p.CreatedAt, p.UpdatedAt = createdAt, approval.TruncateTime(p.UpdatedAt)
		values, err := policyValues(p)
		if err != nil {
			return internal("update policy", err)
		}
		n, err := execTx(ctx, tx, "update policy", `
			UPDATE policies SET description = ?, policy = ?, version = ?, updated_at = ?
			WHERE name = ? AND version = ?`,
			append(values, name, version)...)
		switch {
		case err != nil:
			return err
		case n != 1:
			return internal("update policy", fmt.Errorf("policy %q at version %d: %d rows updated", name, version, n))
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeletePolicy deletes the policy named name. It returns a KindConflict
// *approval.Error while a service rule names the policy, and deletes nothing
// then; a KindNotFound one for an unknown name; and an internal one when
// the database fails.
func (s *Store) DeletePolicy(ctx context.Context, name string) error {
	return s.change(ctx, "delete policy", func(tx *sql.Tx) error {
		n, err := execTx(ctx, tx, "delete policy", "DELETE FROM policies WHERE name = ?", name)
		switch {
		case err != nil:
			return err
		case n == 0:
			return approval.NotFound("policy")
		}
		var rule string
		err = tx.QueryRowContext(ctx, "SELECT name FROM service_rules WHERE policy = ? ORDER BY id LIMIT 1", name).Scan(&rule)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return internal("delete policy", err)
		}
		return approval.Errorf(approval.KindConflict, approval.CodeConflict, "policy %q is used by service rule %q", name, rule)
	})
}

// policyValues are the stored values of p's mutable columns, in the order
// of the INSERT and UPDATE statements above.
func policyValues(p *approval.StoredPolicy) ([]any, error) {
	policy, err := json.Marshal(p.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", p.Name, err)
	}
	return []any{p.Description, string(policy), p.Version, micros(p.UpdatedAt)}, nil
}

// getPolicy reads the policy named name through q.
func getPolicy(ctx context.Context, q querier, name string) (*approval.StoredPolicy, error) {
	p, err := scanPolicy(q.QueryRowContext(ctx, "SELECT "+policyColumns+" FROM policies WHERE name = ?", name))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, approval.NotFound("policy")
	case err != nil:
		return nil, internal("get policy", err)
	}
	return &p, nil
}

// scanPolicy reads one row of policyColumns.
func scanPolicy(row scanner) (approval.StoredPolicy, error) {
	var (
		p                    approval.StoredPolicy
		policy               string
		createdAt, updatedAt int64
	)
	if err := row.Scan(&p.Name, &p.Description, &policy, &p.Version, &createdAt, &updatedAt); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(policy), &p.Policy); err != nil {
		return p, fmt.Errorf("policy %q: %w", p.Name, err)
	}
	p.CreatedAt = fromMicros(createdAt)
	p.UpdatedAt = fromMicros(updatedAt)
	return p, nil
}
