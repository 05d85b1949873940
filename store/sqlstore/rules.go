package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"approvald/approval"
)

// ruleColumns are the columns of service_rules in the order scanRule reads
// them, ruleMutable those that ruleValues writes; likewise for policies.
const (
	ruleColumns   = "id, name, created_at, " + ruleMutable
	ruleMutable   = "url, format, secret, api_key, timeout_ms, max_attempts, headers, policy, updated_at"
	policyColumns = "name, created_at, " + policyMutable
	policyMutable = "description, policy, version, updated_at, match, priority"
)

// The statements that write rules and policies, from their values and
// then the columns that do not change.
var (
	insertRule   = "INSERT INTO service_rules (" + ruleMutable + ", name, created_at) VALUES (" + params(11) + ") ON CONFLICT (name) DO NOTHING RETURNING id"
	updateRule   = "UPDATE service_rules SET " + assign(ruleMutable) + " WHERE id = $10"
	insertPolicy = "INSERT INTO policies (" + policyMutable + ", name, created_at) VALUES (" + params(8) + ") ON CONFLICT (name) DO NOTHING"
	updatePolicy = "UPDATE policies SET " + assign(policyMutable) + " WHERE name = $7 AND version = $8"
)

// CreateServiceRule implements [approval.Catalog.CreateServiceRule],
// normalizing r (see approval.ServiceRule.Normalize) so that it is as it
// reads back. A rule of the same name being created concurrently, which
// then commits, is a conflict too.
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
		err := tx.QueryRow(ctx, insertRule, append(values, r.Name, r.CreatedAt)...).Scan(&id)
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

// GetServiceRule implements [approval.Catalog.GetServiceRule].
func (s *Store) GetServiceRule(ctx context.Context, name string) (*approval.ServiceRule, error) {
	return s.getRule(ctx, s.db, "name = $1", name)
}

// GetServiceRuleByID implements [approval.Catalog.GetServiceRuleByID].
func (s *Store) GetServiceRuleByID(ctx context.Context, id int64) (*approval.ServiceRule, error) {
	return s.getRule(ctx, s.db, "id = $1", id)
}

// ListServiceRules implements [approval.Catalog.ListServiceRules].
func (s *Store) ListServiceRules(ctx context.Context) ([]approval.ServiceRule, error) {
	return queryAll(ctx, s, s.db, "list service rules", s.scanRule, "SELECT "+ruleColumns+" FROM service_rules ORDER BY id")
}

// UpdateServiceRule implements [approval.Catalog.UpdateServiceRule] with
// the rule's row locked, storing it as CreateServiceRule does; the
// transaction may run again (fn included) after a conflict. It returns fn's
// error unchanged, and an internal *approval.Error when fn changed the
// rule's id, name or creation time.
func (s *Store) UpdateServiceRule(ctx context.Context, name string, fn func(*approval.ServiceRule) error) (*approval.ServiceRule, error) {
	const op = "update service rule"
	var out *approval.ServiceRule
	err := s.change(ctx, op, func(tx Tx) error {
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
		if err == nil {
			_, err = tx.Exec(ctx, updateRule, append(values, id)...)
		}
		out = r
		return s.fail(op, err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteServiceRule implements [approval.Catalog.DeleteServiceRule].
func (s *Store) DeleteServiceRule(ctx context.Context, name string) error {
	const op = "delete service rule"
	return s.change(ctx, op, func(tx Tx) error {
		var users int
		err := s.deleteNamed(ctx, tx, op, "service_rules", "service rule", name)
		if err == nil {
			err = tx.QueryRow(ctx, "SELECT count(*) FROM approvals WHERE service_rule = $1 AND status NOT IN ("+finalCodes+")", name).Scan(&users)
		}
		if err == nil && users > 0 {
			return approval.Errorf(approval.KindConflict, approval.CodeConflict,
				"the service rule %q is named by %d request(s) not in a final status; it can be deleted once they are final", name, users)
		}
		return s.fail(op, err)
	})
}

// finalCodes lists the codes of the final statuses (approval.Status.Final),
// comma-separated, for DeleteServiceRule.
var finalCodes = func() string {
	var codes []string
	for _, st := range approval.Statuses() {
		if st.Final() {
			codes = append(codes, strconv.Itoa(int(st)))
		}
	}
	return strings.Join(codes, ", ")
}()

// deleteNamed deletes the row named name of table, a what: KindNotFound
// when there is none.
func (s *Store) deleteNamed(ctx context.Context, tx Tx, op, table, what, name string) error {
	n, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE name = $1", name)
	if err == nil && n == 0 {
		return approval.NotFound(what)
	}
	return s.fail(op, err)
}

// ruleValues are the stored values of r's ruleMutable columns. The timeout
// is kept in milliseconds; headers go as a JSON string.
func ruleValues(r *approval.ServiceRule) ([]any, error) {
	headers, err := json.Marshal(r.Headers)
	if err != nil {
		return nil, fmt.Errorf("rule %q: headers: %w", r.Name, err)
	}
	return []any{r.URL, string(r.Format), r.Secret, r.APIKey, r.Timeout.Milliseconds(), r.MaxAttempts,
		string(headers), r.Policy, r.UpdatedAt}, nil
}

// checkRulePolicy returns a KindInvalid *approval.Error when rule r names a
// policy that is not stored, and an internal one when the database fails.
// Where transactions run concurrently it locks the policy's row (FOR KEY
// SHARE) until tx ends: DeletePolicy waits for it and then finds the rule;
// a policy being deleted is waited for and, once gone, not found.
func (s *Store) checkRulePolicy(ctx context.Context, tx Tx, r *approval.ServiceRule) error {
	if r.Policy == "" {
		return nil
	}
	return s.checkNamed(ctx, tx, "policies", "policy", "stored policy", r.Policy)
}

// checkNamed returns a KindInvalid *approval.Error on field when table has
// no row named name, a what, and an internal one when the database fails;
// it locks the row it finds as checkRulePolicy says.
func (s *Store) checkNamed(ctx context.Context, tx Tx, table, field, what, name string) error {
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM "+table+" WHERE name = $1"+s.lock("KEY SHARE"), name).Scan(&one)
	if noRows(err) {
		var v approval.Validation
		v.Add(field, "there is no %s %q", what, name)
		return v.Err()
	}
	return s.fail("check "+what, err)
}

// getRule reads the rule selected by where (which may end in a locking
// clause), with its one argument arg, through q.
func (s *Store) getRule(ctx context.Context, q Querier, where string, arg any) (*approval.ServiceRule, error) {
	var r approval.ServiceRule
	if err := s.scanRule(q.QueryRow(ctx, "SELECT "+ruleColumns+" FROM service_rules WHERE "+where, arg), &r); err != nil {
		return nil, s.found("get service rule", "service rule", err)
	}
	return &r, nil
}

// scanRule reads a row of ruleColumns into r.
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
	r.Format, r.Timeout = approval.RuleFormat(format), time.Duration(timeoutMS)*time.Millisecond
	if err := unmarshal("headers", &headers, &r.Headers); err != nil {
		return fmt.Errorf("rule %q: %w", r.Name, err)
	}
	return nil
}

// policies is how stored policies are written.
func (s *Store) policies() versioned[approval.StoredPolicy] {
	return versioned[approval.StoredPolicy]{what: "policy", insert: insertPolicy, update: updatePolicy,
		get: s.getPolicy, values: policyValues,
		fields: func(p *approval.StoredPolicy) (*string, *int64, *time.Time, *time.Time) {
			return &p.Name, &p.Version, &p.CreatedAt, &p.UpdatedAt
		}}
}

// CreatePolicy implements [approval.Catalog.CreatePolicy], setting
// p.Version and p's times to store precision, so that p is as it reads
// back. A policy of the same name being created concurrently, which then
// commits, is a conflict too.
func (s *Store) CreatePolicy(ctx context.Context, p *approval.StoredPolicy) error {
	return createVersioned(ctx, s, s.policies(), p)
}

// GetPolicy implements [approval.Catalog.GetPolicy].
func (s *Store) GetPolicy(ctx context.Context, name string) (*approval.StoredPolicy, error) {
	return s.getPolicy(ctx, s.db, name, "")
}

// ListPolicies implements [approval.Catalog.ListPolicies].
func (s *Store) ListPolicies(ctx context.Context) ([]approval.StoredPolicy, error) {
	return queryAll(ctx, s, s.db, "list policies", s.scanPolicy, "SELECT "+policyColumns+" FROM policies ORDER BY name")
}

// UpdatePolicy implements [approval.Catalog.UpdatePolicy] as
// updateVersioned says, its times at store precision. The lock (FOR NO KEY
// UPDATE) lets service rules name the policy meanwhile (see
// checkRulePolicy).
func (s *Store) UpdatePolicy(ctx context.Context, name string, fn func(*approval.StoredPolicy) error) (*approval.StoredPolicy, error) {
	return updateVersioned(ctx, s, s.policies(), name, fn)
}

// DeletePolicy implements [approval.Catalog.DeletePolicy]. The delete
// comes first: it waits for transactions that are making a rule name the
// policy (see checkRulePolicy), and the check after it, in a new snapshot,
// sees their rules.
func (s *Store) DeletePolicy(ctx context.Context, name string) error {
	const op = "delete policy"
	return s.change(ctx, op, func(tx Tx) error {
		var rule string
		err := s.deleteNamed(ctx, tx, op, "policies", "policy", name)
		if err == nil {
			err = tx.QueryRow(ctx, "SELECT name FROM service_rules WHERE policy = $1 ORDER BY id LIMIT 1", name).Scan(&rule)
		}
		if err == nil {
			return approval.Errorf(approval.KindConflict, approval.CodeConflict, "policy %q is used by service rule %q", name, rule)
		}
		if noRows(err) {
			return nil
		}
		return s.fail(op, err)
	})
}

// policyValues are the stored values of p's policyMutable columns.
func policyValues(p *approval.StoredPolicy) ([]any, error) {
	policy, err := json.Marshal(p.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", p.Name, err)
	}
	return []any{p.Description, string(policy), p.Version, p.UpdatedAt, p.Match, p.Priority}, nil
}

// getPolicy reads the policy named name through q, with the locking clause lock.
func (s *Store) getPolicy(ctx context.Context, q Querier, name, lock string) (*approval.StoredPolicy, error) {
	var p approval.StoredPolicy
	if err := s.scanPolicy(q.QueryRow(ctx, "SELECT "+policyColumns+" FROM policies WHERE name = $1"+lock, name), &p); err != nil {
		return nil, s.found("get policy", "policy", err)
	}
	return &p, nil
}

// scanPolicy reads a row of policyColumns into p.
func (s *Store) scanPolicy(row Row, p *approval.StoredPolicy) error {
	var policy string
	if err := row.Scan(&p.Name, s.d.Time(&p.CreatedAt), &p.Description, &policy, &p.Version, s.d.Time(&p.UpdatedAt), &p.Match, &p.Priority); err != nil {
		return err
	}
	if err := unmarshal("policy", &policy, &p.Policy); err != nil {
		return fmt.Errorf("policy %q: %w", p.Name, err)
	}
	return nil
}
