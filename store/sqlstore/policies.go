package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"approvald/approval"
)

// policyColumns are the columns of policies in the order scanPolicy reads
// them; policyMutable those that policyValues writes.
const (
	policyColumns = "name, created_at, " + policyMutable
	policyMutable = "description, policy, version, updated_at"
)

// CreatePolicy stores the new policy p at version 1, setting p.Version, and
// keeps p's times at store precision, so that p is as it reads back. It
// returns a KindConflict *approval.Error when a policy of the same name
// exists (or is being created concurrently, and then commits), and an
// internal one when the database fails.
func (s *Store) CreatePolicy(ctx context.Context, p *approval.StoredPolicy) error {
	const op = "create policy"
	p.Version = 1
	p.CreatedAt, p.UpdatedAt = approval.TruncateTime(p.CreatedAt), approval.TruncateTime(p.UpdatedAt)
	values, err := policyValues(p)
	if err != nil {
		return s.fail(op, err)
	}
	return s.change(ctx, op, func(tx Tx) error {
		n, err := tx.Exec(ctx, "INSERT INTO policies ("+policyMutable+", name, created_at) VALUES ("+params(6)+
			") ON CONFLICT (name) DO NOTHING", append(values, p.Name, p.CreatedAt)...)
		switch {
		case err != nil:
			return s.fail(op, err)
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
	return s.getPolicy(ctx, s.db, name, "")
}

// ListPolicies returns every policy in the order of their names. It returns
// an internal *approval.Error when the database fails.
func (s *Store) ListPolicies(ctx context.Context) ([]approval.StoredPolicy, error) {
	return queryAll(ctx, s, s.db, "list policies", s.scanPolicy, "SELECT "+policyColumns+" FROM policies ORDER BY name")
}

// UpdatePolicy loads the policy named name, locking its row, and calls fn
// with it, in one write transaction; unless fn returns an error, it stores
// the policy as fn left it, one version above the loaded one and with its
// times at store precision, and returns it. After a conflict the
// transaction may run again, fn included. It returns fn's error unchanged;
// a KindNotFound *approval.Error for an unknown name; and an internal one
// when fn changed the policy's name or creation time, or the database fails.
//
// The lock (FOR NO KEY UPDATE) does not keep service rules from naming the
// policy meanwhile (see checkRulePolicy): the name does not change.
func (s *Store) UpdatePolicy(ctx context.Context, name string, fn func(*approval.StoredPolicy) error) (*approval.StoredPolicy, error) {
	const op = "update policy"
	var out *approval.StoredPolicy
	err := s.change(ctx, op, func(tx Tx) error {
		out = nil
		p, err := s.getPolicy(ctx, tx, name, s.lock("NO KEY UPDATE"))
		if err != nil {
			return err
		}
		version, createdAt := p.Version, p.CreatedAt
		if err := fn(p); err != nil {
			return err
		}
		if p.Name != name || !p.CreatedAt.Equal(createdAt) {
			return s.fail(op, fmt.Errorf("policy %q: its name and creation time cannot change", name))
		}
		p.Version = version + 1
		p.CreatedAt, p.UpdatedAt = createdAt, approval.TruncateTime(p.UpdatedAt)
		values, err := policyValues(p)
		if err != nil {
			return s.fail(op, err)
		}
		n, err := tx.Exec(ctx, "UPDATE policies SET ("+policyMutable+") = ("+params(4)+") WHERE name = $5 AND version = $6",
			append(values, name, version)...)
		switch {
		case err != nil:
			return s.fail(op, err)
		case n != 1:
			return s.fail(op, fmt.Errorf("policy %q at version %d: %d rows updated", name, version, n))
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
// the database fails. The delete comes first: it waits for transactions
// that are making a rule name the policy (see checkRulePolicy), and the
// check after it, in a new snapshot, sees their rules.
func (s *Store) DeletePolicy(ctx context.Context, name string) error {
	const op = "delete policy"
	return s.change(ctx, op, func(tx Tx) error {
		n, err := tx.Exec(ctx, "DELETE FROM policies WHERE name = $1", name)
		switch {
		case err != nil:
			return s.fail(op, err)
		case n == 0:
			return approval.NotFound("policy")
		}
		var rule string
		err = tx.QueryRow(ctx, "SELECT name FROM service_rules WHERE policy = $1 ORDER BY id LIMIT 1", name).Scan(&rule)
		switch {
		case noRows(err):
			return nil
		case err != nil:
			return s.fail(op, err)
		}
		return approval.Errorf(approval.KindConflict, approval.CodeConflict, "policy %q is used by service rule %q", name, rule)
	})
}

// policyValues are the stored values of p's policyMutable columns.
func policyValues(p *approval.StoredPolicy) ([]any, error) {
	policy, err := json.Marshal(p.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", p.Name, err)
	}
	return []any{p.Description, string(policy), p.Version, p.UpdatedAt}, nil
}

// getPolicy reads the policy named name through q, with the locking clause
// lock.
func (s *Store) getPolicy(ctx context.Context, q Querier, name, lock string) (*approval.StoredPolicy, error) {
	var p approval.StoredPolicy
	if err := s.scanPolicy(q.QueryRow(ctx, "SELECT "+policyColumns+" FROM policies WHERE name = $1"+lock, name), &p); err != nil {
		return nil, s.found("get policy", "policy", err)
	}
	return &p, nil
}

// scanPolicy reads one row of policyColumns into p.
func (s *Store) scanPolicy(row Row, p *approval.StoredPolicy) error {
	var policy string
	if err := row.Scan(&p.Name, s.d.Time(&p.CreatedAt), &p.Description, &policy, &p.Version, s.d.Time(&p.UpdatedAt)); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(policy), &p.Policy); err != nil {
		return fmt.Errorf("policy %q: %w", p.Name, err)
	}
	return nil
}
