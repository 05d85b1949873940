package engine

import (
	"context"
	"sync"
	"time"

	"approvald/approval"
)

// RuleCacheTTL bounds how long a service rule read through the cache is
// reused. A change made through this engine (CreateRule, UpdateRule,
// DeleteRule) empties the cache at once, so reads through this instance never
// see a rule older than its own changes; a change made through another
// instance sharing the database is seen at most this late.
const RuleCacheTTL = time.Second

// ruleCache holds recently read service rules by name, with an index by id,
// for the lookups that every create, legacy read and legacy list makes.
type ruleCache struct {
	mu     sync.Mutex
	gen    uint64 // bumped by every change; a load begun before one is not kept
	byName map[string]cachedRule
	byID   map[int64]string
}

type cachedRule struct {
	rule    approval.ServiceRule
	expires time.Time
}

// get returns a copy of the cached rule that key selects, if it is fresh.
func (c *ruleCache) get(name string, id int64, now time.Time) (approval.ServiceRule, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name == "" {
		name = c.byID[id]
	}
	cr, ok := c.byName[name]
	if !ok || !now.Before(cr.expires) {
		return approval.ServiceRule{}, false
	}
	return cr.rule, true
}

// generation returns the generation a load starts at.
func (c *ruleCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps r, read at generation gen, unless a change came in between.
func (c *ruleCache) put(r approval.ServiceRule, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.byName == nil {
		c.byName, c.byID = map[string]cachedRule{}, map[int64]string{}
	}
	c.byName[r.Name] = cachedRule{rule: r, expires: now.Add(RuleCacheTTL)}
	c.byID[r.ID] = r.Name
}

// invalidate forgets every rule; called on each change to a rule.
func (c *ruleCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byName)
	clear(c.byID)
}

// CachedRule returns the service rule named name, read at most RuleCacheTTL
// ago (see RuleCacheTTL for what that means across instances). Its Headers
// map is shared with the cache and must not be modified. An unknown name is
// a KindNotFound error.
func (e *Engine) CachedRule(ctx context.Context, name string) (*approval.ServiceRule, error) {
	return e.cachedRule(ctx, name, 0)
}

// CachedRuleByID is CachedRule for the rule numbered id (the legacy API's
// way of naming rules).
func (e *Engine) CachedRuleByID(ctx context.Context, id int64) (*approval.ServiceRule, error) {
	return e.cachedRule(ctx, "", id)
}

func (e *Engine) cachedRule(ctx context.Context, name string, id int64) (*approval.ServiceRule, error) {
	now := time.Now() // the cache's own time, not the engine's (tests move that)
	if r, ok := e.rules.get(name, id, now); ok {
		return &r, nil
	}
	gen := e.rules.generation()
	var r *approval.ServiceRule
	var err error
	if name != "" {
		r, err = e.store.GetServiceRule(ctx, name)
	} else {
		r, err = e.store.GetServiceRuleByID(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	e.rules.put(*r, gen, now)
	return r, nil
}
