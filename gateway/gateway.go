package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/internal/httpkit"
)

// The routes the gateway serves, all POST, and the prefix they share.
const (
	Prefix        = "/project/"
	RouteValidate = "/project/validate"
	RoutePackage  = "/project/package"
	RoutePublish  = "/project/publish"
)

// StatusClientClosed is the status recorded for a call whose client went
// away before it was answered (nginx's 499). It is never sent.
const StatusClientClosed = 499

// CodeNotApproved is the code of the error NotApproved returns.
const CodeNotApproved = "not_approved"

// hookTimeout bounds a call of the approval step made after the upstream
// has done its work; deadlineMargin is the time allowed, beyond a route's
// upstream timeout, for the locks, the approval step and the answer.
const (
	hookTimeout    = 30 * time.Second
	deadlineMargin = 2 * time.Minute
)

// Client details that are not the original's.
const (
	detailForbidden = "Could not validate API key. Please provide a valid API key in the header."
	detailInternal  = "Internal error in approvald; its log has the cause."
	detailNoRequest = "The data was packaged, but approvald could not open the approval request for it; run package again. approvald's log has the cause."
)

// ServicePrincipal is the caller that presents the configured
// approvalserviceapikey: the CR8TOR CLI. It carries no scopes; whatever it
// may do is decided by the gateway's routes and the ApprovalStep.
var ServicePrincipal = approval.Principal{ID: "svc:cr8tor"}

// Deps is what the gateway uses besides its Config. Every field is optional.
type Deps struct {
	// Authenticate checks an x-api-key value that is not the configured
	// approvalserviceapikey (which is always accepted, compared in
	// constant time, as ServicePrincipal): typically a native API key
	// with a gateway scope. It returns the caller, or an error:
	// KindUnauthenticated, KindForbidden and KindNotFound errors are 403s
	// with the original's detail, any other error is a 500. Without it,
	// only the configured key is accepted.
	Authenticate func(ctx context.Context, key string) (approval.Principal, error)
	// Locker allows one package or publish at a time per run; the
	// default is a LocalLocker of this gateway's own.
	Locker Locker
	// Approval is the approval step; nil forwards publish as the original
	// did, unless Config.Approval asks for the step (then publish is
	// refused: the gate fails closed).
	Approval ApprovalStep
	// Recorder keeps a record of every call; nil keeps none.
	Recorder Recorder
	// Logger gets one line per call and the causes of 5xx answers; never
	// a key or a body. nil discards.
	Logger *slog.Logger
	// Client, when set, sends the requests to both upstreams (tests); its
	// redirect policy is its own. By default each upstream has a pooled
	// keep-alive client that passes a 3xx on instead of following it.
	Client *http.Client
	// ObserveUpstream, when set, is told of every upstream call: the
	// upstream ("metadata" or "publish"), the status it answered (0 when
	// none), whether the route's deadline passed, and how long it took.
	ObserveUpstream func(upstream string, status int, timedOut bool, d time.Duration)
	// Traced makes each upstream call a client span that sends its
	// traceparent (set it when tracing is configured).
	Traced bool
}

// ApprovalStep is the optional approval step (APPROVALD_GATEWAY_APPROVAL=
// publish): package opens an approval request for the run, publish is
// forwarded only once it is approved, and what was published is recorded.
// The gateway holds the run's lock around each call.
type ApprovalStep interface {
	// Packaged runs after a successful package, with the client's body
	// byte for byte and the Publish service's payload (the staged files);
	// it opens the run's approval request, replacing an open one, and
	// returns its id. On error the gateway answers 500: the package
	// happened, but the gate publish relies on would be missing.
	Packaged(ctx context.Context, caller approval.Principal, run Run, body []byte, payload json.RawMessage) (requestID string, err error)
	// MayPublish returns nil when the run's approval request is approved
	// and, when it has items (the staged files), every item is approved.
	// A refusal is a KindForbidden or KindConflict *approval.Error whose
	// message names the request and why (NotApproved, ItemsNotApproved
	// and Revoked build them), or a KindNotFound error when the run has no
	// request: both are 403s. Any other error is a 500.
	MayPublish(ctx context.Context, caller approval.Principal, run Run) error
	// Published records what the Publish service returned for the run (the
	// files, their sizes and SHA-512 hashes). An error is logged only:
	// the data is published, so the client still gets its 200.
	Published(ctx context.Context, caller approval.Principal, run Run, payload json.RawMessage) error
}

// NotApproved returns the refusal MayPublish gives when the run's request,
// requestID, is in status rather than approved.
func NotApproved(run Run, requestID string, status approval.Status) *approval.Error {
	return approval.Errorf(approval.KindForbidden, CodeNotApproved,
		"Approval request %s for %s is %s; publish is allowed once it is approved.", requestID, run, status)
}

// Recorder keeps one record per gateway call. Record is called after the
// answer is written, on a goroutine of its own (see Gateway.Drain), with a
// context that is not cancelled when the client goes.
type Recorder interface {
	Record(ctx context.Context, c Call)
}

// Call is the record of one gateway call.
type Call struct {
	Caller          string        // the principal's id; "" when not authenticated
	Route           string        // RouteValidate, RoutePackage or RoutePublish; "" for an unknown path
	Run             Run           // zero when the body was not read or not valid
	UpstreamStatus  int           // the status of the upstream whose answer decided; 0 if none answered
	Status          int           // the status sent, or StatusClientClosed
	Duration        time.Duration // from the request to the end of the answer
	Detail          string        // the error detail sent; "" on success
	ApprovalRequest string        // the approval request Packaged opened, if any
	At              time.Time     // when the request arrived
}

// Mount routes the gateway's prefix on mux to h, the handler New returns,
// under the access log every face shares: a request id (X-Request-Id), one
// access line per call and panic recovery, answering a panic with the
// gateway's own error envelope.
func Mount(mux *http.ServeMux, h http.Handler) {
	log := slog.New(slog.DiscardHandler)
	if g, ok := h.(*Gateway); ok {
		log = g.log
	}
	mux.Handle(Prefix, access.Log(access.Face{Name: "gateway", Logger: log, Fail: func(w http.ResponseWriter, _ *http.Request, _ error) {
		writeError(w, http.StatusInternalServerError, detailInternal)
	}}, h))
}

// Gateway is the handler of the gateway's routes. Its zero value is not
// usable; use New.
type Gateway struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	keyHash  [sha256.Size]byte // of cfg.APIKey, so that comparing takes the same time whatever the length
	gated    bool              // publish needs an approved request
	metadata *upstream
	publish  *upstream
	mux      *http.ServeMux

	// recordSlots bounds the records being written: a call whose record
	// finds no slot waits for one (the call log's back-pressure).
	recordSlots chan struct{}
	recording   sync.WaitGroup
}

// maxPendingRecords is how many answered calls may wait for their record
// to be written before the next call's handler waits too.
const maxPendingRecords = 4096

// route is what one of the three routes does: its upstream timeout and
// handler.
type route struct {
	timeout time.Duration
	handle  func(ctx context.Context, p approval.Principal, run Run, body []byte, c *Call) (json.RawMessage, *failure)
}

// failure is a call's error answer: status and detail go to the client,
// err (the cause) to the log only.
type failure struct {
	status int
	detail string
	err    error
}

func internal(err error) *failure {
	return &failure{status: http.StatusInternalServerError, detail: detailInternal, err: err}
}

// New returns the handler of the gateway's routes, everything under
// Prefix: the three routes, 404 for other paths and 405 for other methods.
// Empty fields of cfg take their defaults. It returns the error of
// cfg.Validate when cfg is invalid.
func New(cfg Config, d Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Locker == nil {
		d.Locker = &LocalLocker{}
	}
	g := &Gateway{
		recordSlots: make(chan struct{}, maxPendingRecords),
		cfg:         cfg,
		deps:        d,
		log:         d.Logger,
		keyHash:     sha256.Sum256([]byte(cfg.APIKey)),
		gated:       cfg.Approval == ApprovalPublish || d.Approval != nil,
	}
	if g.gated && d.Approval == nil {
		d.Logger.Error("gateway: APPROVALD_GATEWAY_APPROVAL=publish but no approval step is wired; every publish will be refused")
	}
	client := func() *http.Client {
		if d.Client != nil {
			return d.Client
		}
		return newClient(d.Traced)
	}
	g.metadata = &upstream{name: "metadata", base: baseURL(cfg.MetadataHost, cfg.MetadataPort), key: string(cfg.MetadataKey), client: client(), observe: d.ObserveUpstream}
	g.publish = &upstream{name: "publish", base: baseURL(cfg.PublishHost, cfg.PublishPort), key: string(cfg.PublishKey), client: client(), observe: d.ObserveUpstream}
	g.mux = httpkit.Mux(g.routes(), g.serveRoute, g.refuse)
	return g, nil
}

// routes is the gateway's route table: three POST routes, open to every
// caller the x-api-key authenticates (see authenticate).
func (g *Gateway) routes() []httpkit.Route[route] {
	return []httpkit.Route[route]{
		{Method: http.MethodPost, Pattern: RouteValidate, Handle: route{g.cfg.ValidateTimeout, g.validate}},
		{Method: http.MethodPost, Pattern: RoutePackage, Handle: route{g.cfg.Timeout, g.pack}},
		{Method: http.MethodPost, Pattern: RoutePublish, Handle: route{g.cfg.Timeout, g.publishRun}},
	}
}

// ServeHTTP answers one call, then logs and records it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pattern := r.Pattern
	g.mux.ServeHTTP(w, r)
	// The mux sets the pattern it matched on r; the access log and the
	// metrics name every call of the gateway by the pattern it is mounted
	// at (see Mount), as they always have.
	r.Pattern = pattern
}

// serveRoute answers the calls of rt.
func (g *Gateway) serveRoute(rt httpkit.Route[route]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := Call{At: time.Now(), Route: rt.Pattern}
		payload, f := g.serveSafely(w, r, rt.Handle, &c)
		g.answer(w, r, c, payload, f)
	})
}

// refuse answers a call for no route: httpkit.Mux's 404 and 405.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, err error) {
	c := Call{At: time.Now()}
	if approval.KindOf(err) == approval.KindMethodNotAllowed {
		c.Route = r.URL.Path
	}
	g.answer(w, r, c, nil, failed(r, err))
}

// failed is the failure of an httpkit error, with the original's details:
// for a 404 or 405 the URL, for a body over the limit (413) the limit.
func failed(r *http.Request, err error) *failure {
	e := approval.AsError(err)
	f := &failure{status: httpkit.StatusOf(e.Kind), err: e.Err}
	switch e.Kind {
	case approval.KindTooLarge:
		f.detail = detailTooLarge
	case approval.KindMalformed:
		f.detail = "The request body could not be read."
	default:
		f.detail = "Url: " + fullURL(r) + ". Error: " + http.StatusText(f.status)
	}
	return f
}

// answer writes the answer to the call c, then logs and records it.
func (g *Gateway) answer(w http.ResponseWriter, r *http.Request, c Call, payload json.RawMessage, f *failure) {
	switch {
	case r.Context().Err() != nil:
		c.Status = StatusClientClosed // nobody reads an answer
	case f == nil:
		c.Status = http.StatusOK
		writeSuccess(w, payload)
	default:
		c.Status = f.status
		writeError(w, f.status, f.detail)
	}
	if f != nil {
		c.Detail = f.detail
	}
	c.Duration = time.Since(c.At)
	g.logCall(r.Context(), c, f)
	g.record(r.Context(), c)
}

// record hands c to the Recorder in the background, so that neither the
// client nor the next request on its connection waits for the call log's
// commit (it was a third of the gateway's CPU time per call, and kept the
// connection's next request unread until it committed). At most
// maxPendingRecords records are in flight; Drain waits for them.
func (g *Gateway) record(ctx context.Context, c Call) {
	if g.deps.Recorder == nil {
		return
	}
	g.recordSlots <- struct{}{}
	g.recording.Add(1)
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer func() { <-g.recordSlots; g.recording.Done() }()
		g.deps.Recorder.Record(ctx, c)
	}()
}

// Drain waits until the record of every call answered so far is written,
// or ctx ends (then it returns ctx's error). Call it after the HTTP server
// has shut down, so that no call is left out of the log.
func (g *Gateway) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { g.recording.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// serveSafely runs serve, turning a panic into a 500.
func (g *Gateway) serveSafely(w http.ResponseWriter, r *http.Request, rt route, c *Call) (payload json.RawMessage, f *failure) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			payload, f = nil, internal(fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
		}
	}()
	return g.serve(w, r, rt, c)
}

// serve authenticates and checks the call, then runs its route.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, rt route, c *Call) (json.RawMessage, *failure) {
	p, f := g.authenticate(r)
	if f != nil {
		return nil, f
	}
	c.Caller = p.ID
	access.SetPrincipal(r.Context(), p.ID)
	body, err := requestBody.Read(w, r)
	if err != nil {
		return nil, failed(r, err)
	}
	run, err := checkBody(body)
	if err != nil {
		return nil, &failure{status: http.StatusUnprocessableEntity, detail: err.Error()}
	}
	c.Run = run
	// A package may take an hour: the server's write timeout, meant for
	// ordinary calls, must not cut its answer off. (The read deadline
	// needs nothing: the server clears it once the body is read.)
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(rt.timeout + deadlineMargin))
	return rt.handle(r.Context(), p, run, body, c)
}

// authenticate returns the caller presenting the x-api-key header.
func (g *Gateway) authenticate(r *http.Request) (approval.Principal, *failure) {
	forbidden := &failure{status: http.StatusForbidden, detail: detailForbidden}
	key := r.Header.Get("x-api-key")
	if key == "" {
		return approval.Principal{}, forbidden
	}
	if h := sha256.Sum256([]byte(key)); g.cfg.APIKey != "" && subtle.ConstantTimeCompare(h[:], g.keyHash[:]) == 1 {
		return ServicePrincipal, nil
	}
	if g.deps.Authenticate == nil {
		return approval.Principal{}, forbidden
	}
	p, err := g.deps.Authenticate(r.Context(), key)
	switch approval.KindOf(err) {
	case approval.KindNone:
		if p.ID == "" {
			return approval.Principal{}, internal(errors.New("Authenticate returned a principal without an id"))
		}
		return p, nil
	case approval.KindUnauthenticated, approval.KindForbidden, approval.KindNotFound:
		return approval.Principal{}, forbidden
	default:
		return approval.Principal{}, internal(fmt.Errorf("authenticating an x-api-key: %w", err))
	}
}

// validate asks both services, concurrently, and returns the Metadata
// service's payload. A failure of either is the route's; when both fail,
// the Publish service's is reported, as the original asked it first.
func (g *Gateway) validate(ctx context.Context, _ approval.Principal, _ Run, body []byte, c *Call) (json.RawMessage, *failure) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ValidateTimeout)
	defer cancel()
	type result struct {
		rep reply
		f   *failure
	}
	ask := func(u *upstream, path string) <-chan result {
		ch := make(chan result, 1)
		go func() {
			rep, f := u.post(ctx, path, body)
			ch <- result{rep, f}
		}()
		return ch
	}
	pub := ask(g.publish, "data-publish/validate")
	meta := ask(g.metadata, "metadata/project")
	res := <-pub
	if res.f == nil {
		res = <-meta
	}
	// On a publish failure the deferred cancel stops the metadata call.
	c.UpstreamStatus = res.rep.status
	return res.rep.payload, res.f
}

// pack forwards a package, holding the run's lock, and opens the run's
// approval request when there is an approval step.
func (g *Gateway) pack(ctx context.Context, p approval.Principal, run Run, body []byte, c *Call) (json.RawMessage, *failure) {
	unlock, f := g.lock(ctx, run)
	if f != nil {
		return nil, f
	}
	defer unlock()
	rep, f := g.forward(ctx, "data-publish/package", body, c)
	if f != nil || g.deps.Approval == nil {
		return rep.payload, f
	}
	hctx, cancel := hookContext(ctx)
	defer cancel()
	id, err := g.deps.Approval.Packaged(hctx, p, run, body, rep.payload)
	if err != nil {
		return nil, &failure{status: http.StatusInternalServerError, detail: detailNoRequest,
			err: fmt.Errorf("opening the approval request of %s: %w", run, err)}
	}
	c.ApprovalRequest = id
	return rep.payload, nil
}

// publishRun forwards a publish, holding the run's lock, once the approval
// step (if any) allows it, and records what was published.
func (g *Gateway) publishRun(ctx context.Context, p approval.Principal, run Run, body []byte, c *Call) (json.RawMessage, *failure) {
	unlock, f := g.lock(ctx, run)
	if f != nil {
		return nil, f
	}
	defer unlock()
	if g.gated {
		if f := g.mayPublish(ctx, p, run); f != nil {
			return nil, f
		}
	}
	rep, f := g.forward(ctx, "data-publish/publish", body, c)
	if f != nil || g.deps.Approval == nil {
		return rep.payload, f
	}
	hctx, cancel := hookContext(ctx)
	defer cancel()
	if err := g.deps.Approval.Published(hctx, p, run, rep.payload); err != nil {
		g.log.ErrorContext(ctx, "gateway: recording a publish in its approval request failed; the data is published",
			"project", run.ProjectName, "run", run.StartTime, "err", err)
	}
	return rep.payload, nil
}

// mayPublish asks the approval step whether run may be published.
func (g *Gateway) mayPublish(ctx context.Context, p approval.Principal, run Run) *failure {
	if g.deps.Approval == nil {
		return internal(errors.New("APPROVALD_GATEWAY_APPROVAL=publish but no approval step is wired"))
	}
	err := g.deps.Approval.MayPublish(ctx, p, run)
	switch approval.KindOf(err) {
	case approval.KindNone:
		return nil
	case approval.KindNotFound:
		return &failure{status: http.StatusForbidden, detail: fmt.Sprintf(
			"There is no approval request for %s: run package first, then have its approval request approved.", run)}
	case approval.KindForbidden, approval.KindConflict:
		return &failure{status: http.StatusForbidden, detail: approval.AsError(err).Message}
	default:
		return internal(fmt.Errorf("checking the approval of %s: %w", run, err))
	}
}

// forward sends body to the Publish service's path within the route's
// timeout and notes the upstream's status in c.
func (g *Gateway) forward(ctx context.Context, path string, body []byte, c *Call) (reply, *failure) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	rep, f := g.publish.post(ctx, path, body)
	c.UpstreamStatus = rep.status
	return rep, f
}

// lock takes the run's lock: 409 when it is held, 500 when the Locker fails.
func (g *Gateway) lock(ctx context.Context, run Run) (func(), *failure) {
	unlock, ok, err := g.deps.Locker.TryLock(ctx, run)
	switch {
	case err != nil:
		return nil, internal(fmt.Errorf("locking %s: %w", run, err))
	case !ok:
		return nil, &failure{status: http.StatusConflict, detail: fmt.Sprintf(
			"A package or publish for %s is already in progress; try again when it has finished.", run)}
	}
	return unlock, nil
}

// hookContext returns the context of an approval step call made after the
// upstream did its work: it outlives the client, within hookTimeout.
func hookContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), hookTimeout)
}

// logCall writes the call's log line; a 5xx cause at error level.
func (g *Gateway) logCall(ctx context.Context, c Call, f *failure) {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("route", c.Route), slog.String("caller", c.Caller),
		slog.String("project", c.Run.ProjectName), slog.String("run", c.Run.StartTime),
		slog.Int("status", c.Status), slog.Int("upstream_status", c.UpstreamStatus),
		slog.Float64("duration_ms", float64(c.Duration.Microseconds())/1000),
	}
	if c.ApprovalRequest != "" {
		attrs = append(attrs, slog.String("approval_request", c.ApprovalRequest))
	}
	if f != nil && f.err != nil {
		attrs = append(attrs, slog.Any("err", f.err))
		if f.status >= 500 && f.status != StatusClientClosed {
			level = slog.LevelError
		}
	}
	g.log.LogAttrs(ctx, level, "gateway call", attrs...)
}

// fullURL returns the request's URL as the original showed it in details:
// scheme, Host header, decoded path and raw query.
func fullURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := scheme + "://" + r.Host + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// writeSuccess writes 200 and {"status":"success","payload":<payload>},
// the payload as the upstream sent it, without copying it. Without a
// payload it writes an empty object: every 200 carries a payload, which
// CR8TOR clients (the karectl fork's among them) read unconditionally.
func writeSuccess(w http.ResponseWriter, payload json.RawMessage) {
	const head, tail = `{"status":"success","payload":`, `}`
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(head)+len(payload)+len(tail)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(head))
	_, _ = w.Write(payload)
	_, _ = w.Write([]byte(tail))
}

// errorBody is {"status":"error","payload":{"detail":"..."}}.
type errorBody struct {
	Status  string `json:"status"`
	Payload struct {
		Detail string `json:"detail"`
	} `json:"payload"`
}

// writeError writes status and the error envelope with detail.
func writeError(w http.ResponseWriter, status int, detail string) {
	var e errorBody
	e.Status, e.Payload.Detail = "error", detail
	b, err := marshal(e)
	if err != nil { // cannot happen: two strings
		status, b = http.StatusInternalServerError, []byte(`{"status":"error","payload":{"detail":"`+detailInternal+`"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// marshal returns v as compact JSON without the HTML escapes of
// json.Marshal (the original sent "<", not "\u003c") and without a newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
