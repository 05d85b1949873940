package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Client calls one approvald server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	hc        *http.Client
	userAgent string
	retry     RetryPolicy
	timeout   time.Duration
	// sleep waits between attempts; tests replace it.
	sleep func(context.Context, time.Duration) error
}

// RetryPolicy says how often and how patiently a call is retried. Only
// calls that are safe to repeat are retried: GET, HEAD, PUT and DELETE, a
// create with an Idempotency-Key (Create always sends one), and any call
// whose connection was refused before it was sent. They are retried after
// connection errors and after 429, 502, 503 and 504 answers, with
// exponential backoff and full jitter, or after the Retry-After the server
// asked for.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts in all, the first included;
	// 1 turns retries off. Default 4.
	MaxAttempts int
	// MinDelay is the backoff before the first retry; it doubles on each
	// retry. Default 250ms.
	MinDelay time.Duration
	// MaxDelay caps the backoff. Default 8s.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for; an
	// answer asking for longer is returned as the error. Default 1m.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy is the retry policy of a client made without [WithRetry].
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, MinDelay: 250 * time.Millisecond, MaxDelay: 8 * time.Second, MaxRetryAfter: time.Minute}

// DefaultTimeout bounds each attempt of an ordinary call; see [WithTimeout].
const DefaultTimeout = 30 * time.Second

// Option configures a [Client].
type Option func(*Client)

// WithToken authenticates every call with "Authorization: Bearer token": an
// API key or a person's JWT.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sends the calls through hc (its Timeout should be zero:
// long-polls and the event stream outlast any fixed timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithRetry replaces the retry policy; zero fields take the defaults.
func WithRetry(p RetryPolicy) Option { return func(c *Client) { c.retry = p } }

// WithTimeout bounds each attempt of an ordinary call (default 30s; 0 means
// no bound). A long-poll gets its wait on top; the event stream has no bound
// but its context.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client of the approvald server at baseURL, such as
// "https://approvals.example.com" (a path prefix is kept). It returns an
// error if baseURL is not an absolute http or https URL.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must be absolute, such as http://localhost:8000", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q must not have a query or fragment", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, hc: http.DefaultClient, userAgent: "approvald-go-client", retry: DefaultRetryPolicy, timeout: DefaultTimeout, sleep: sleepCtx}
	for _, o := range opts {
		o(c)
	}
	def := DefaultRetryPolicy
	if c.retry.MaxAttempts < 1 {
		c.retry.MaxAttempts = def.MaxAttempts
	}
	if c.retry.MinDelay <= 0 {
		c.retry.MinDelay = def.MinDelay
	}
	if c.retry.MaxDelay <= 0 {
		c.retry.MaxDelay = def.MaxDelay
	}
	if c.retry.MaxRetryAfter <= 0 {
		c.retry.MaxRetryAfter = def.MaxRetryAfter
	}
	return c, nil
}

// BaseURL returns the server URL the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// CallOption adjusts one call.
type CallOption func(*callOptions)

type callOptions struct {
	header  http.Header
	capture *Response
}

// IfMatch makes a change conditional: it happens only while the request
// (or stored policy) is still at version; otherwise the call fails with 412
// version_mismatch.
func IfMatch(version int64) CallOption {
	return Header("If-Match", `"`+strconv.FormatInt(version, 10)+`"`)
}

// IdempotencyKey sets the Idempotency-Key of a create instead of the random
// one Create picks. Repeating a create with the same key and body within 24
// hours returns the first request instead of making another.
func IdempotencyKey(key string) CallOption { return Header("Idempotency-Key", key) }

// RequestID sets X-Request-Id, which the server logs and repeats in problems.
func RequestID(id string) CallOption { return Header("X-Request-Id", id) }

// Header sets a request header of the call.
func Header(key, value string) CallOption {
	return func(o *callOptions) {
		if o.header == nil {
			o.header = http.Header{}
		}
		o.header.Set(key, value)
	}
}

// CaptureResponse records the status and headers of the call's final
// answer, and how many attempts it took, into r.
func CaptureResponse(r *Response) CallOption { return func(o *callOptions) { o.capture = r } }

// Response describes the final HTTP answer to a call.
type Response struct {
	StatusCode int
	Header     http.Header
	// Attempts is how many times the call was sent.
	Attempts int
}

// Replayed reports whether a create was answered from the idempotency
// store: the request existed already and was not made again.
func (r *Response) Replayed() bool { return r.Header.Get("Idempotent-Replayed") == "true" }

// RequestID returns the server's X-Request-Id.
func (r *Response) RequestID() string { return r.Header.Get("X-Request-Id") }

// call is one API call.
type call struct {
	method string
	path   string // escaped, from the API root
	query  url.Values
	body   []byte
	ctype  string
	// extra is added to the attempt timeout (a long-poll's wait); stream
	// calls have no timeout and return the open response.
	extra  time.Duration
	stream bool
	opts   []CallOption
}

// jsonCall returns a call with v encoded as its JSON body.
func jsonCall(method, path string, v any, opts []CallOption) (*call, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &call{method: method, path: path, body: b, ctype: "application/json", opts: opts}, nil
}

// do sends cl, retrying what may be retried, and decodes a 2xx JSON answer
// into out (unless out is nil).
func (c *Client) do(ctx context.Context, cl *call, out any) error {
	resp, body, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(body)) == 0 || resp.StatusCode == http.StatusNotModified {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the JSON expected: %w", cl.method, cl.path, err)
	}
	return nil
}

// fetch sends cl and returns its decoded JSON answer.
func fetch[T any](ctx context.Context, c *Client, cl *call) (*T, error) {
	var out T
	if err := c.do(ctx, cl, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// getJSON GETs path and returns its decoded JSON answer.
func getJSON[T any](ctx context.Context, c *Client, path string, opts []CallOption) (*T, error) {
	return fetch[T](ctx, c, &call{method: http.MethodGet, path: path, opts: opts})
}

// list GETs the admin list at path, which is not paged, and returns its items.
func list[T any](ctx context.Context, c *Client, path string, opts []CallOption) ([]T, error) {
	out, err := getJSON[page[T]](ctx, c, path, opts)
	if err != nil {
		return nil, err
	}
	return out.Items, nil
}

// sendJSON sends in as the JSON body of a method call to path and returns
// the decoded JSON answer.
func sendJSON[T any](ctx context.Context, c *Client, method, path string, in any, opts []CallOption) (*T, error) {
	cl, err := jsonCall(method, path, in, opts)
	if err != nil {
		return nil, err
	}
	return fetch[T](ctx, c, cl)
}

// mergePatch PATCHes path with p as a JSON merge patch and returns the
// decoded JSON answer.
func mergePatch[T any](ctx context.Context, c *Client, path string, p any, opts []CallOption) (*T, error) {
	cl, err := jsonCall(http.MethodPatch, path, p, opts)
	if err != nil {
		return nil, err
	}
	cl.ctype = "application/merge-patch+json"
	return fetch[T](ctx, c, cl)
}

// patchBody is a JSON merge patch being built: a field set to nil is sent
// as null, which resets it.
type patchBody map[string]any

// newPatchBody returns a merge patch that resets the fields of clear.
func newPatchBody(clear []string) patchBody {
	m := patchBody{}
	for _, f := range clear {
		m[f] = nil
	}
	return m
}

// put sets field k to v when ok.
func (m patchBody) put(k string, v any, ok bool) {
	if ok {
		m[k] = v
	}
}

// send makes the attempts of cl. For a stream call it returns the open
// response of a 2xx answer, for others the read body.
func (c *Client) send(ctx context.Context, cl *call) (*http.Response, []byte, error) {
	var o callOptions
	for _, opt := range cl.opts {
		opt(&o)
	}
	retryable := isIdempotent(cl.method) || (o.header.Get("Idempotency-Key") != "")
	for attempt := 1; ; attempt++ {
		resp, body, err := c.attempt(ctx, cl, o.header)
		if err == nil {
			if o.capture != nil {
				*o.capture = Response{StatusCode: resp.StatusCode, Header: resp.Header, Attempts: attempt}
			}
			return resp, body, nil
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", cl.method, cl.path, context.Cause(ctx))
		}
		delay, again := c.retryDelay(err, attempt, retryable)
		if !again {
			if o.capture != nil && resp != nil {
				*o.capture = Response{StatusCode: resp.StatusCode, Header: resp.Header, Attempts: attempt}
			}
			return nil, nil, err
		}
		if err := c.sleep(ctx, delay); err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", cl.method, cl.path, context.Cause(ctx))
		}
	}
}

// attempt sends cl once. A non-2xx answer is an *Error; a transport
// failure is wrapped with the method and path.
func (c *Client) attempt(ctx context.Context, cl *call, header http.Header) (*http.Response, []byte, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if !cl.stream && c.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, c.timeout+cl.extra)
	}
	u := *c.base
	u.Path += cl.path
	if i := strings.IndexByte(cl.path, '%'); i >= 0 {
		u.RawPath = c.base.EscapedPath() + cl.path
		if p, err := url.PathUnescape(u.RawPath); err == nil {
			u.Path = p
		}
	}
	u.RawQuery = cl.query.Encode()
	var rd io.Reader
	if cl.body != nil {
		rd = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, u.String(), rd)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", cl.ctype)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if cl.stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("User-Agent", c.userAgent)
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%s %s: %w", cl.method, cl.path, err)
	}
	if cl.stream && resp.StatusCode/100 == 2 {
		resp.Body = cancelOnClose{resp.Body, cancel}
		return resp, nil, nil // the caller reads and closes it
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	cancel()
	if err != nil {
		return resp, nil, fmt.Errorf("%s %s: reading the answer: %w", cl.method, cl.path, err)
	}
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotModified {
		return resp, body, parseError(cl.method, cl.path, resp, body)
	}
	return resp, body, nil
}

// cancelOnClose releases a stream's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// retryDelay says whether err may be retried after attempt, and after how long.
func (c *Client) retryDelay(err error, attempt int, retryable bool) (time.Duration, bool) {
	if attempt >= c.retry.MaxAttempts {
		return 0, false
	}
	backoff := c.retry.MinDelay << (attempt - 1)
	if backoff > c.retry.MaxDelay || backoff <= 0 {
		backoff = c.retry.MaxDelay
	}
	backoff = time.Duration(rand.Int64N(int64(backoff)) + 1) // full jitter
	if apiErr := AsError(err); apiErr != nil {
		switch apiErr.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		default:
			return 0, false
		}
		if !retryable {
			return 0, false
		}
		if apiErr.RetryAfter > c.retry.MaxRetryAfter {
			return 0, false
		}
		if apiErr.RetryAfter > 0 {
			return apiErr.RetryAfter, true
		}
		return backoff, true
	}
	// A transport error: retry what is safe to repeat, and anything whose
	// connection was never made (so the server never saw it).
	if retryable || notSent(err) {
		return backoff, true
	}
	return 0, false
}

// notSent reports whether err happened while dialing, before any byte of
// the request was sent.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newIdempotencyKey returns a random key for a create.
func newIdempotencyKey() string { return uuid.NewString() }

// pathEscape escapes one path segment (an id or a name).
func pathEscape(s string) string { return url.PathEscape(s) }
