package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"approvald/approval"
	"approvald/engine"
	"approvald/webhook"
)

// Defaults of a Dispatcher.
const (
	DefaultWorkers = 64
	DefaultPerRule = 32
	DefaultPoll    = time.Second
	// DefaultLease is how long a claimed delivery is ours; past it, another
	// worker may take it (the receiver dedupes on webhook-id).
	DefaultLease = 2 * time.Minute
	// maxBackoff caps the wait between attempts, Retry-After included.
	maxBackoff = time.Hour
	// maxReplyBytes is how much of a receiver's reply is read (for errors).
	maxReplyBytes = 4 << 10
)

// Config configures a Dispatcher.
type Config struct {
	Workers int // deliveries in flight at most, over all rules
	PerRule int // deliveries in flight at most per rule
	// FreeRuleOnAnswer frees a rule's slot as soon as its receiver has
	// answered, not once the outcome is written: the per-rule limit then
	// bounds the calls a receiver gets at once, and the outcome's
	// transaction does not cap a rule's rate. Where every outcome queues for
	// one writer (SQLite) it makes that queue longer, and delivery slower.
	FreeRuleOnAnswer bool
	Poll             time.Duration // how often to look for due work without a wake-up
	Lease            time.Duration // how long a claim is held; should exceed the longest rule timeout
	Client           *http.Client  // default: NewHTTPClient(true)
	Wake             <-chan struct{}
	Logger           *slog.Logger
	Now              func() time.Time
	// Backoff returns the wait before attempt n+1 after n failed attempts.
	Backoff func(n int) time.Duration
	// Observe, when set, is told each attempt's result (delivered, retry
	// or failed) and the time since the decision was committed.
	Observe func(result string, sinceDecision time.Duration)
	// Senders deliver the rules of the formats they name (FormatGitHub:
	// the GitHub App's deployment callback); a rule whose format has none
	// here and is not a webhook format fails its attempts retryably:
	// configuring the sender and restarting delivers them while the rule's
	// attempts last; after that a decision waits in error for a redelivery
	// (an expiry or a revocation records the failure and stays as it is).
	Senders map[approval.RuleFormat]Sender
}

// Dispatcher delivers decisions to service rules. It claims deliveries and
// records their outcomes through the engine, which is the only writer of
// request state.
type Dispatcher struct {
	eng *engine.Engine
	cfg Config

	mu       sync.Mutex
	inflight map[string]int // per rule, claimed and not finished (see Config.FreeRuleOnAnswer)
	rules    map[string]cachedRule
	total    int
	freed    chan struct{}
	wg       sync.WaitGroup
}

// NewDispatcher returns a dispatcher of the deliveries of eng's decisions.
func NewDispatcher(eng *engine.Engine, cfg Config) *Dispatcher {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.PerRule <= 0 {
		cfg.PerRule = DefaultPerRule
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Client == nil {
		cfg.Client = NewHTTPClient(true)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	return &Dispatcher{eng: eng, cfg: cfg, inflight: map[string]int{}, rules: map[string]cachedRule{}, freed: make(chan struct{}, 1)}
}

// ruleCacheTTL is how long a loaded service rule is reused: an edit of a
// rule (URL, secret) reaches retries of earlier events at most this late.
const ruleCacheTTL = time.Second

type cachedRule struct {
	rule    *approval.ServiceRule
	loaded  time.Time
	expires time.Time
}

// rule returns the service rule named name for an event created at
// created, from a short-lived cache — never a copy loaded before the event
// existed, so a decision made (or redelivered) after a rule was fixed
// always goes out under the fixed rule.
func (d *Dispatcher) rule(ctx context.Context, name string, created time.Time) (*approval.ServiceRule, error) {
	now := time.Now()
	d.mu.Lock()
	c, ok := d.rules[name]
	d.mu.Unlock()
	if ok && now.Before(c.expires) && c.loaded.After(created) {
		return c.rule, nil
	}
	r, err := d.eng.Rule(ctx, name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.rules[name] = cachedRule{rule: r, loaded: now, expires: now.Add(ruleCacheTTL)}
	d.mu.Unlock()
	return r, nil
}

// Backoff is the default wait after n failed attempts: exponential from one
// second, capped at an hour, with full jitter.
func Backoff(n int) time.Duration {
	d := time.Second << min(n-1, 12)
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// Run delivers until ctx ends, then waits for deliveries in flight.
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.wg.Wait()
	tick := time.NewTicker(d.cfg.Poll)
	defer tick.Stop()
	for {
		for d.claim(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-d.cfg.Wake:
		case <-d.freed:
		case <-tick.C:
		}
	}
}

// claim claims what free capacity allows and starts delivering it. It
// reports whether it may be worth claiming again at once.
func (d *Dispatcher) claim(ctx context.Context) bool {
	d.mu.Lock()
	// A claim takes no more than every rule with deliveries in flight has
	// room for, since it cannot tell whose rows it will find: so nothing
	// claimed is ever handed back (one write per row, for nothing), and a
	// rule at its limit is skipped. At saturation, claims follow the
	// deliveries that finish, a few at a time.
	free := min(d.cfg.Workers-d.total, d.cfg.PerRule)
	var skip []string
	for rule, n := range d.inflight {
		if n >= d.cfg.PerRule {
			skip = append(skip, rule)
		} else {
			free = min(free, d.cfg.PerRule-n)
		}
	}
	d.mu.Unlock()
	if free <= 0 || ctx.Err() != nil {
		return false
	}
	now := d.cfg.Now()
	claims, err := d.eng.ClaimDeliveries(ctx, now, now.Add(d.cfg.Lease), skip, free)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.Error("claiming deliveries failed", "err", err)
		}
		return false
	}
	d.mu.Lock()
	for _, c := range claims {
		d.inflight[c.Rule]++
		d.total++
	}
	d.mu.Unlock()
	for _, c := range claims {
		d.wg.Go(func() {
			var once sync.Once
			freeRule := func() {
				once.Do(func() {
					d.mu.Lock()
					if d.inflight[c.Rule]--; d.inflight[c.Rule] == 0 {
						delete(d.inflight, c.Rule)
					}
					d.mu.Unlock()
				})
			}
			answered := func() {}
			if d.cfg.FreeRuleOnAnswer {
				answered = func() { freeRule(); d.signalFreed() }
			}
			// The worker is free once the outcome is written, which bounds
			// the outcomes being written.
			d.deliver(context.WithoutCancel(ctx), c, answered)
			freeRule()
			d.mu.Lock()
			d.total--
			d.mu.Unlock()
			d.signalFreed()
		})
	}
	return len(claims) == free
}

// signalFreed wakes the claim loop: a slot came free.
func (d *Dispatcher) signalFreed() {
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// decisionSpan returns the span context of the W3C traceparent tp, invalid
// when tp is empty or malformed.
func decisionSpan(tp string) trace.SpanContext {
	if tp == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp})
	return trace.SpanContextFromContext(ctx)
}

// Outcome is the result of one attempt at a delivery.
type Outcome struct {
	// OK: the receiver took the decision.
	OK bool
	// Retryable: the attempt failed in a way that another may not (the
	// receiver down, a 5xx, a timeout); otherwise a failure is permanent.
	Retryable bool
	// RetryAfter, when set, is how long the receiver asked us to wait.
	RetryAfter time.Duration
	// Reason says why the attempt failed; it becomes the request's
	// delivery.last_error, which every reader of the request sees, so it
	// must never carry a credential.
	Reason string
}

// A Sender delivers a claimed event to a service rule of a format whose
// receiver is not a plain webhook (Config.Senders): it makes one attempt
// and says how it went; the Dispatcher retries, gives up and records.
type Sender interface {
	Send(ctx context.Context, rule *approval.ServiceRule, c approval.Claim) Outcome
}

// deliver makes one attempt at c, calls answered when the attempt is over,
// and records its outcome.
func (d *Dispatcher) deliver(ctx context.Context, c approval.Claim, answered func()) {
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attribute.String("approval.id", c.RequestID), attribute.String("event.id", c.ID), attribute.String("service_rule", c.Rule))}
	if decided := decisionSpan(c.TraceParent); decided.IsValid() {
		// The delivery is its own trace, linked to the decision's: it
		// happens later, perhaps in another process, and may be retried.
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: decided}))
	}
	ctx, span := tracer.Start(ctx, "delivery.deliver", opts...)
	defer span.End()
	log := d.cfg.Logger.With("event_id", c.ID, "approval_id", c.RequestID, "rule", c.Rule)
	attempts := c.Attempts + 1
	rule, err := d.rule(ctx, c.Rule, c.CreatedAt)
	var out Outcome
	switch {
	case approval.KindOf(err) == approval.KindNotFound:
		out = Outcome{Reason: fmt.Sprintf("service rule %q does not exist", c.Rule)}
	case err != nil:
		log.Error("loading the service rule failed", "err", err)
		out = Outcome{Retryable: true, Reason: "internal error loading the service rule"}
	case rule.Format == approval.FormatStandard || rule.Format == approval.FormatLegacy:
		out = d.send(ctx, rule, c)
	case d.cfg.Senders[rule.Format] != nil:
		out = d.cfg.Senders[rule.Format].Send(ctx, rule, c)
	default:
		out = Outcome{Retryable: true, Reason: fmt.Sprintf("nothing here delivers the %s format (is it configured?)", rule.Format)}
	}
	answered()
	now := d.cfg.Now()
	result := "failed"
	defer func() {
		span.SetAttributes(attribute.String("delivery.result", result), attribute.Int("delivery.attempt", attempts))
		if result != "delivered" {
			span.SetStatus(codes.Error, out.Reason)
		}
		if d.cfg.Observe != nil {
			d.cfg.Observe(result, now.Sub(c.CreatedAt))
		}
	}()
	res := approval.DeliveryResult{Attempts: attempts, Done: true, LastError: out.Reason}
	switch {
	case out.OK:
		result = "delivered"
		res.Delivered = true
		log.Debug("delivered", "attempts", attempts)
	case out.Retryable && attempts < maxAttempts(rule):
		wait := d.cfg.Backoff(attempts)
		if out.RetryAfter > 0 {
			wait = min(out.RetryAfter, maxBackoff)
		}
		result = "retry"
		res.Done, res.NextAttempt = false, now.Add(wait)
		log.Info("delivery attempt failed; will retry", "attempts", attempts, "reason", out.Reason, "retry_in", wait.String())
	default:
		log.Warn("delivery failed", "attempts", attempts, "reason", out.Reason)
	}
	if _, err := d.eng.FinishDelivery(ctx, c, res); err != nil {
		// The claim's lease will run out and the delivery come due again.
		log.Error("recording the delivery outcome failed", "err", err)
	}
}

// maxAttempts is the rule's attempt limit, or the default when the rule
// could not be loaded.
func maxAttempts(rule *approval.ServiceRule) int {
	if rule == nil {
		return approval.DefaultRuleMaxAttempts
	}
	return rule.MaxAttempts
}

// send makes the HTTP request of one attempt and classifies the answer.
func (d *Dispatcher) send(ctx context.Context, rule *approval.ServiceRule, c approval.Claim) Outcome {
	req, err := buildRequest(ctx, rule, c, d.cfg.Now())
	if err != nil {
		return Outcome{Reason: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, rule.Timeout)
	defer cancel()
	resp, err := d.cfg.Client.Do(req.WithContext(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return Outcome{Retryable: true, Reason: fmt.Sprintf("no answer within %s", rule.Timeout)}
		}
		msg := err.Error()
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			msg = ue.Err.Error()
		}
		return Outcome{Retryable: true, Reason: "connection failed: " + msg}
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return Outcome{OK: true}
	}
	out := Outcome{Reason: fmt.Sprintf("HTTP %d from the receiver", code)}
	if s := strings.TrimSpace(withoutCredentials(rule, string(reply))); s != "" {
		out.Reason += ": " + s[:min(len(s), 200)]
	}
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests, code >= 500:
		out.Retryable = true
		out.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), d.cfg.Now())
	}
	return out
}

// withoutCredentials returns a receiver's answer with what rule sends it
// as credentials — its API key, signing secret and header values, of at
// least 4 bytes — replaced by "[redacted]": receivers often repeat a
// refused credential, and the answer becomes the delivery's last_error,
// which every reader of the request sees, and a log line.
func withoutCredentials(rule *approval.ServiceRule, reply string) string {
	creds := []string{rule.APIKey, rule.Secret}
	for _, v := range rule.Headers {
		creds = append(creds, v)
	}
	slices.SortFunc(creds, func(a, b string) int { return len(b) - len(a) }) // longest first
	for _, c := range creds {
		if len(c) >= 4 {
			reply = strings.ReplaceAll(reply, c, "[redacted]")
		}
	}
	return reply
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// legacyStatus is the decision a legacy callback reports: the final status
// that the acknowledged status s settles in (3, 4 or 5); for a revocation
// (revoked, which the legacy enum lacks) rejected (4), as the legacy API
// shows a revoked request (legacy.WireStatus): a revoked approval must
// never look approved, and rejected tells a receiver that acted on the
// approval to undo it, where cancelled would say the requester withdrew
// it. An expiry (expired, which the legacy callbacks never carried) is
// rejected (4) too: no approval will come. Any other status is 0 (unknown): no event delivered to a rule has
// one, and buildRequest refuses to send it.
func legacyStatus(s approval.Status) approval.Status {
	switch {
	case s.Acknowledged():
		return s.Settled()
	case s == approval.StatusRevoked, s == approval.StatusExpired:
		return approval.StatusRejected
	}
	return approval.StatusUnknown
}

// buildRequest makes the HTTP request delivering c to rule in its format:
// the event as a Standard Webhook of its own type (approval.decided,
// approval.revoked, …), or the legacy callback {"id","status"} with the
// decision in the legacy enum (see legacyStatus).
func buildRequest(ctx context.Context, rule *approval.ServiceRule, c approval.Claim, now time.Time) (*http.Request, error) {
	var body []byte
	var err error
	switch rule.Format {
	case approval.FormatLegacy:
		var r struct {
			Status approval.Status `json:"status"`
		}
		if err := json.Unmarshal(c.Data, &r); err != nil {
			return nil, fmt.Errorf("the event's request cannot be read: %w", err)
		}
		status := legacyStatus(r.Status)
		if status == approval.StatusUnknown {
			// The old service's receivers took a 0 for a decision.
			return nil, fmt.Errorf("the legacy format cannot express a %s event of a %s request", c.Type, r.Status)
		}
		body, err = json.Marshal(struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
		}{c.RequestID, int(status)})
	default:
		body = EventJSON(c.OutboxRecord)
	}
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rule.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("the service rule's URL is unusable: %w", err)
	}
	for k, v := range rule.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "approvald")
	if rule.Format == approval.FormatLegacy {
		req.Header.Set("Authorization", rule.APIKey)
	} else if err := webhook.SetHeaders(req.Header, rule.Secret, c.ID, now, body); err != nil {
		return nil, fmt.Errorf("signing failed: %w", err)
	}
	return req, nil
}

// tracer makes a span per delivery attempt; without a configured
// OpenTelemetry provider it does nothing.
var tracer = otel.Tracer("approvald/delivery")
