// Package engine runs the approval use cases on top of an approval.Store:
// it assigns ids and times, resolves policies, honours idempotency keys,
// expires overdue requests and records the outcomes of deliveries. Every
// adapter (the HTTP API, the legacy API, the web UI, the delivery
// dispatcher) goes through it, so they share one set of rules: the engine
// is the only writer of request state.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/gowebpki/jcs"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"approvald/approval"
	"approvald/celrule"
)

var errNotFound = approval.NotFound("approval request")

// ValidID reports whether id has the form of a request id (a UUID). Stores
// only ever see valid ids, so a malformed one is simply not found.
func ValidID(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.String() == id
}

// Engine is the approval service. Its zero value is not usable; use New.
type Engine struct {
	store         approval.Store
	now           func() time.Time
	log           *slog.Logger
	allowPrivate  bool
	defaultPolicy approval.Policy
	observe       func(context.Context, approval.Change, *approval.Request)
	lifetime      context.Context
	rules         ruleCache
	notifying     bool
}

// Option configures an Engine.
type Option func(*Engine)

// WithNotifications says whether a notifier plans the notifications that
// changes call for (Event.Notify). It is on by default; off, events carry
// no call for one, and the outbox keeps none for a notifier.
func WithNotifications(on bool) Option { return func(e *Engine) { e.notifying = on } }

// WithClock makes the engine read the time from now (tests use a fixed clock).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithObserver has observe called after each committed change to a
// request, with the change and the request as committed (metrics count
// decisions with it). It must be quick and must not call the engine.
func WithObserver(observe func(context.Context, approval.Change, *approval.Request)) Option {
	return func(e *Engine) { e.observe = observe }
}

// WithLifetime bounds the work that follows a committed change (resolving
// the dependents of a decided request) by ctx instead of by the caller's
// context: a client that goes away right after its change committed must
// not stop that work, but a server that shuts down does. By default it is
// bounded only by followUpTimeout.
func WithLifetime(ctx context.Context) Option { return func(e *Engine) { e.lifetime = ctx } }

// WithLogger sets the logger for background work.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// New returns an engine on store s.
func New(s approval.Store, opts ...Option) *Engine {
	e := &Engine{store: s, now: time.Now, log: slog.New(slog.DiscardHandler), allowPrivate: true, defaultPolicy: approval.DefaultPolicy(), lifetime: context.Background(), notifying: true}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Now returns the engine's current time, at store precision.
func (e *Engine) Now() time.Time { return approval.TruncateTime(e.now()) }

// Created is the result of Create: the request and the exact JSON of the
// response to return. Replayed is true when an earlier create with the same
// idempotency key answered, in which case Body is that earlier response.
type Created struct {
	Request  *approval.Request
	Body     []byte
	Replayed bool
}

// Create makes a new request from d on behalf of p. A non-empty idemKey makes
// the call idempotent per principal: a retry with the same key and the same
// body — the same JSON, however spaced or ordered — returns the first
// response; the same key with another body is a KindInvalid error.
func (e *Engine) Create(ctx context.Context, p approval.Principal, d approval.Draft, idemKey string, body []byte) (*Created, error) {
	rule, err := e.checkRule(ctx, d.ServiceRule)
	if err != nil {
		return nil, err
	}
	if rule != nil {
		var v approval.Validation
		approval.CheckRuleOrigin(&v, "service_rule", d.Origin, rule.Format)
		if err := v.Err(); err != nil {
			return nil, err
		}
	}
	if d.Policy != nil {
		if err := checkExpressions("policy", *d.Policy); err != nil {
			return nil, err
		}
	}
	m, err := e.mandate(ctx, rule, d.PolicyName, celrule.Input{
		Payload: d.Payload, Requester: p.ID, Groups: p.Groups, ServiceRule: d.ServiceRule, Items: d.Items, Now: e.Now(),
	})
	if err != nil {
		return nil, err
	}
	d.Dependencies = nil
	if len(d.DependsOn) > 0 && len(d.DependsOn) <= approval.MaxDependencies {
		var valid []string
		for _, dep := range d.DependsOn {
			if ValidID(dep) {
				valid = append(valid, dep)
			}
		}
		if d.Dependencies, err = e.store.Statuses(ctx, valid); err != nil {
			return nil, err
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, approval.Internal(err)
	}
	now := e.Now()
	r, ch, err := approval.New(id.String(), d, p, m, now)
	if err != nil {
		return nil, err
	}
	resp, err := json.Marshal(r)
	if err != nil {
		return nil, approval.Internal(err)
	}
	var idem *approval.Idempotency
	var rawHash string // of the body's bytes, as records made before canonical hashing hold
	if idemKey != "" {
		// The same JSON with other spacing or key order is the same body: a
		// retry need not reproduce the first one's bytes.
		raw := sha256.Sum256(body)
		rawHash = hex.EncodeToString(raw[:])
		if canonical, err := jcs.Transform(body); err == nil {
			body = canonical
		}
		sum := sha256.Sum256(body)
		idem = &approval.Idempotency{
			Principal: p.ID, Key: idemKey, BodyHash: hex.EncodeToString(sum[:]),
			RequestID: r.ID, Response: resp, CreatedAt: now,
		}
	}
	ctx, span := tracer.Start(ctx, "engine.create")
	ch.Event.TraceParent = TraceParent(ctx)
	e.stamp(&ch.Event)
	prior, err := e.store.CreateApproval(ctx, r, ch, idem)
	endSpan(span, err)
	if err != nil {
		return nil, err
	}
	if prior == nil && e.observe != nil {
		e.observe(ctx, ch, r)
	}
	if prior != nil {
		if prior.BodyHash != idem.BodyHash && prior.BodyHash != rawHash {
			return nil, approval.Errorf(approval.KindInvalid, approval.CodeIdempotencyMismatch,
				"Idempotency-Key %q was already used with a different request body", idemKey)
		}
		var orig approval.Request
		if err := json.Unmarshal(prior.Response, &orig); err != nil {
			return nil, approval.Internal(err)
		}
		return &Created{Request: &orig, Body: prior.Response, Replayed: true}, nil
	}
	if after := e.autoDecide(ctx, p, r); after != r {
		// What the rules decided by themselves are changes of their own,
		// in the history; the response shows the request after them (a
		// replay of the create shows it as created).
		r = after
		if resp, err = json.Marshal(r); err != nil {
			return nil, approval.Internal(err)
		}
	}
	return &Created{Request: r, Body: resp}, nil
}

// Get returns the request with the given id. An overdue pending request
// is expired first, through the write path that decides expiry (apply), so
// that what the read shows agrees with the request's history and with its
// dependents, which the API shows too; lists only show overdue requests as
// expired (see listAsOf) and leave the writing to the sweeper.
func (e *Engine) Get(ctx context.Context, id string) (*approval.Request, error) {
	if !ValidID(id) {
		return nil, errNotFound
	}
	r, err := e.store.GetApproval(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Overdue(e.Now()) {
		return e.expire(ctx, id) // with its dependencies' statuses, from the transaction
	}
	if r.Status.Acknowledged() {
		// While a decision is being delivered, show how that is going: the
		// attempt state lives with the delivery, not in the request.
		d, err := e.store.PendingDelivery(ctx, id)
		if err != nil {
			return nil, err
		}
		if d != nil {
			r.Delivery = d
		}
	}
	if err := e.annotate(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// List returns up to f.Limit requests matching f, newest first, and the
// cursor of the next page ("" on the last page). Overdue requests read as
// expired (see Get), and a filter on status matches the status read.
func (e *Engine) List(ctx context.Context, f approval.Filter) ([]*approval.Request, string, error) {
	if f.Before != "" && !ValidID(f.Before) {
		var v approval.Validation
		v.Add("cursor", "is not a cursor returned by this API")
		return nil, "", v.Err()
	}
	// Sorted in a copy: the caller's slice may be shared (a package's
	// table of statuses, used by concurrent calls).
	f.Statuses = slices.Compact(slices.Sorted(slices.Values(f.Statuses)))
	limit := f.Limit
	rs, err := e.listAsOf(ctx, f, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rs) > limit {
		rs = rs[:limit]
		next = rs[limit-1].ID
	}
	if err := e.annotate(ctx, rs...); err != nil {
		return nil, "", err
	}
	return rs, next, nil
}

// Edit applies patch to the request on behalf of p; expect, when set, must
// equal the current version (If-Match).
func (e *Engine) Edit(ctx context.Context, p approval.Principal, id string, patch approval.Patch, expect *int64) (*approval.Request, error) {
	if patch.ServiceRule.Set {
		// The new rule's mandate applies afresh. What the requester asked
		// of the policy never changes after create, so reading it before
		// the change's transaction is safe.
		rule, err := e.checkRule(ctx, patch.ServiceRule.Value)
		if err != nil {
			return nil, err
		}
		if rule != nil {
			// No edit moves a request to a rule an adapter owns: the
			// adapter opens its requests itself, with its own payload.
			var v approval.Validation
			approval.CheckRuleOrigin(&v, "service_rule", approval.OriginAPI, rule.Format)
			if err := v.Err(); err != nil {
				return nil, err
			}
		}
		if !ValidID(id) {
			return nil, errNotFound
		}
		cur, err := e.store.GetApproval(ctx, id)
		if err != nil {
			return nil, err
		}
		in := celrule.Input{Payload: cur.Payload, Requester: cur.Requester, ServiceRule: patch.ServiceRule.Value, Items: cur.Items, Now: e.Now()}
		if p.ID == cur.Requester {
			in.Groups = p.Groups
		}
		m, err := e.mandate(ctx, rule, cur.PolicyRequest.Name, in)
		if err != nil {
			return nil, err
		}
		patch.Mandate = &m
	}
	if patch.Policy.Set {
		if err := checkExpressions("policy", patch.Policy.Value); err != nil {
			return nil, err
		}
	}
	r, err := e.update(ctx, id, func(r *approval.Request) (approval.Change, error) {
		return r.Edit(p, patch, expect, e.Now())
	})
	if err != nil {
		return nil, err
	}
	return e.autoDecide(ctx, p, r), nil
}

// Review records p's decision on the request. An approval that satisfies
// the policy decides only when every dependency is approved, as the
// change's transaction reads them. With in.OnBehalfOf, p reviews for that
// principal under a delegation to p active now, looked up here (so that
// an ended or revoked one is refused at once): without one it is a
// KindForbidden error with code not_delegated.
func (e *Engine) Review(ctx context.Context, p approval.Principal, id string, in approval.ReviewInput, expect *int64) (*approval.Request, error) {
	in.Delegation = nil // the engine's to find, never the caller's to give
	if in.OnBehalfOf != "" {
		d, err := e.delegationFrom(ctx, p, in.OnBehalfOf)
		if err != nil {
			return nil, err
		}
		in.Delegation = d
	}
	return e.update(ctx, id, func(r *approval.Request) (approval.Change, error) {
		return r.Review(p, in, expect, e.Now())
	})
}

// Cancel cancels the request on behalf of p.
func (e *Engine) Cancel(ctx context.Context, p approval.Principal, id, comment string, expect *int64) (*approval.Request, error) {
	return e.update(ctx, id, func(r *approval.Request) (approval.Change, error) {
		return r.Cancel(p, comment, expect, e.Now())
	})
}

// History returns the history of the request as stored — its entries with
// the request's version and head, so that HistoryChain.Verify checks the
// same read — after checking that the request exists (Get expires it first
// when it is overdue). An unknown id is a KindNotFound error.
func (e *Engine) History(ctx context.Context, id string) (approval.HistoryChain, error) {
	if _, err := e.Get(ctx, id); err != nil {
		return approval.HistoryChain{}, err
	}
	chains, err := e.store.HistoryChains(ctx, approval.ChainFilter{RequestID: id, Limit: 1})
	switch {
	case err != nil:
		return approval.HistoryChain{}, err
	case len(chains) == 0:
		return approval.HistoryChain{}, errNotFound
	}
	return chains[0], nil
}

// update applies fn to the request in one transaction, then follows the
// change up. A request whose deadline has passed is expired instead (see
// apply) and the caller gets a conflict: the action met an expired request.
// The request returned knows its dependencies' statuses as the transaction
// read them.
func (e *Engine) update(ctx context.Context, id string, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, error) {
	if !ValidID(id) {
		return nil, errNotFound
	}
	r, ch, err := e.apply(ctx, "engine.update", id, nil, fn)
	if err != nil {
		return nil, err
	}
	e.followUp(ctx, r)
	if expired(ch) {
		return nil, approval.Errorf(approval.KindConflict, approval.CodeInvalidTransition,
			"the deadline of this request passed at %s; it is expired", r.Deadline.Format(time.RFC3339))
	}
	return r, nil
}

// expire expires request id if it is overdue (apply does; nothing else
// changes) and follows that up.
func (e *Engine) expire(ctx context.Context, id string) (*approval.Request, error) {
	r, _, err := e.apply(ctx, "engine.expire", id, nil, func(*approval.Request) (approval.Change, error) {
		return approval.Change{}, nil
	})
	if err != nil {
		return nil, err
	}
	e.followUp(ctx, r)
	return r, nil
}

// expired reports whether ch is an expiry.
func expired(ch approval.Change) bool { return ch.Entry.Action == approval.ActionExpire }

// followUpTimeout bounds the work that follows one committed change; the
// sweeper (ResolveDue) finishes whatever it leaves.
const followUpTimeout = 30 * time.Second

// followUp runs settled after a change the caller made has committed, on a
// context that keeps the caller's values (trace, request id) but not its
// cancellation, and that ends with the engine's lifetime (WithLifetime):
// the change is done whether or not its caller is still connected, so
// what must follow it is too.
func (e *Engine) followUp(ctx context.Context, r *approval.Request) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), followUpTimeout)
	defer cancel()
	stop := context.AfterFunc(e.lifetime, cancel)
	defer stop()
	e.settled(ctx, r)
}

// expireBatch bounds the work of one sweep step.
const expireBatch = 100

// ExpireDue expires every pending request whose deadline has passed and
// returns how many it expired. The sweeper runs it; reads show overdue
// requests as expired without writing (approval.Request.AsOf).
func (e *Engine) ExpireDue(ctx context.Context) (int, error) {
	n := 0
	for {
		ids, err := e.store.Overdue(ctx, e.Now(), expireBatch)
		if err != nil {
			return n, err
		}
		for _, id := range ids {
			if _, err := e.expire(ctx, id); err != nil {
				return n, err
			}
			n++
		}
		if len(ids) < expireBatch {
			return n, nil
		}
	}
}

// idempotencyTTL is how long a create's Idempotency-Key is remembered.
const idempotencyTTL = 24 * time.Hour

// Sweep runs the background housekeeping every interval until ctx ends:
// it expires overdue requests, decides requests their dependencies decide,
// sends due reminders, escalates rules whose escalation is due, forgets idempotency keys older than a day,
// and deletes outbox events older than retention whose delivery is over
// (and, when published is true, that were published).
func (e *Engine) Sweep(ctx context.Context, interval, retention time.Duration, published bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := e.ExpireDue(ctx); err != nil {
			if ctx.Err() == nil {
				e.log.Error("expiry sweep failed", "err", err)
			}
		} else if n > 0 {
			e.log.Info("expired overdue requests", "count", n)
		}
		if n, err := e.ResolveDue(ctx); err != nil {
			if ctx.Err() == nil {
				e.log.Error("dependency sweep failed", "err", err)
			}
		} else if n > 0 {
			e.log.Info("decided requests by their dependencies", "count", n)
		}
		if _, err := e.RemindDue(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("reminder sweep failed", "err", err)
		}
		if n, err := e.EscalateDue(ctx); err != nil {
			if ctx.Err() == nil {
				e.log.Error("escalation sweep failed", "err", err)
			}
		} else if n > 0 {
			e.log.Info("escalated requests", "count", n)
		}
		if _, err := e.store.DeleteIdempotencyBefore(ctx, e.Now().Add(-idempotencyTTL)); err != nil && ctx.Err() == nil {
			e.log.Error("idempotency cleanup failed", "err", err)
		}
		if _, err := e.store.DeleteOutboxBefore(ctx, e.Now().Add(-retention), published); err != nil && ctx.Err() == nil {
			e.log.Error("outbox cleanup failed", "err", err)
		}
		if _, err := e.store.DeleteNotificationsBefore(ctx, e.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			e.log.Error("notification cleanup failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Outbox returns up to limit events after sequence number after, for
// replaying the event stream.
func (e *Engine) Outbox(ctx context.Context, after int64, limit int) ([]approval.OutboxRecord, error) {
	return e.store.Outbox(ctx, after, limit)
}

// RecordOutcome records on the approved request what the service that acted
// on it reports it did (see approval.Request.RecordOutcome).
func (e *Engine) RecordOutcome(ctx context.Context, p approval.Principal, id string, outcome json.RawMessage) (*approval.Request, error) {
	return e.update(ctx, id, func(r *approval.Request) (approval.Change, error) {
		return r.RecordOutcome(p, outcome, e.Now())
	})
}

// tracer makes the engine's spans: one per state change, around its one
// transaction. Without a configured OpenTelemetry provider it does nothing.
var tracer = otel.Tracer("approvald/engine")

// endSpan ends span, marking it failed when err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// stamp drops the event's call for a notification when nothing sends
// notifications, so that the outbox does not keep it for a notifier that
// never comes.
func (e *Engine) stamp(ev *approval.Event) {
	if !e.notifying {
		ev.Notify = ""
	}
}

// TraceParent returns the W3C traceparent of the span in ctx, "" when ctx
// has no span. Events carry it, so that what follows from them (a
// delivery) can be linked to the trace of the change that made them.
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// apply is every change to an existing request, in one transaction of the
// store (approval.Store.UpdateApproval; FinishDelivery when res is not nil,
// which records that delivery outcome in the same transaction), traced as
// op, the committed change shown to the observer. The request comes with
// its dependencies' statuses read in that transaction. It is the one place
// that decides a deadline: a request overdue at the transaction's time is
// expired instead of being given to fn. It returns the request as it is
// afterwards and the change made (zero when none).
func (e *Engine) apply(ctx context.Context, op, id string, res *approval.DeliveryResult, fn func(*approval.Request) (approval.Change, error)) (*approval.Request, approval.Change, error) {
	ctx, span := tracer.Start(ctx, op, trace.WithAttributes(attribute.String("approval.id", id)))
	var ch approval.Change
	change := func(r *approval.Request) (approval.Change, error) {
		c := r.Expire(e.Now())
		var err error
		if c.IsZero() {
			c, err = fn(r)
		}
		c.Event.TraceParent = TraceParent(ctx)
		e.stamp(&c.Event)
		ch = c // the last try's, when the store retries
		return c, err
	}
	var r *approval.Request
	var err error
	if res != nil {
		r, err = e.store.FinishDelivery(ctx, *res, change)
	} else {
		r, err = e.store.UpdateApproval(ctx, id, change)
	}
	endSpan(span, err)
	if err != nil {
		return nil, approval.Change{}, err
	}
	if !ch.IsZero() && e.observe != nil {
		e.observe(ctx, ch, r)
	}
	return r, ch, nil
}
