package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// maxDetailBytes bounds a detail taken from an upstream's raw body (an HTML
// error page from a proxy, say): the CLI prints it to a terminal.
const maxDetailBytes = 16 << 10

// upstream is one of the two services the gateway forwards to.
type upstream struct {
	name   string // "metadata" or "publish", as the original's details say
	base   string // http://host:port/
	key    string // sent as x-api-key when not empty
	client *http.Client
	// observe, when set, is told of every call (see Deps.ObserveUpstream).
	observe func(upstream string, status int, timedOut bool, d time.Duration)
}

// newClient returns the pooled client of one upstream: keep-alive with
// room for many concurrent callers, no redirects followed (the upstream's
// 3xx is passed on, as the original did), no overall timeout (each call
// has its route's deadline).
func newClient(traced bool) *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	var rt http.RoundTripper = &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if traced {
		// Each call is a client span, and the upstream gets its traceparent.
		rt = otelhttp.NewTransport(rt)
	}
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// reply is what an upstream answered: its status (0 when it did not
// answer) and, on success, the payload for the client.
type reply struct {
	status  int
	payload json.RawMessage
}

// post sends body to path and returns the upstream's payload, or the
// failure to show the client: 502 when the upstream cannot be reached or
// answers with something that is not JSON, 504 when ctx's deadline passes,
// the upstream's own status and detail when it answers non-2xx.
func (u *upstream) post(ctx context.Context, path string, body []byte) (reply, *failure) {
	start := time.Now()
	rep, f := u.call(ctx, path, body)
	if u.observe != nil {
		u.observe(u.name, rep.status, errors.Is(ctx.Err(), context.DeadlineExceeded), time.Since(start))
	}
	return rep, f
}

// call is post without the observation.
func (u *upstream) call(ctx context.Context, path string, body []byte) (reply, *failure) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.base+path, bytes.NewReader(body))
	if err != nil {
		return reply{}, internal(fmt.Errorf("%s service request: %w", u.name, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "approvald-gateway")
	if u.key != "" {
		req.Header.Set("x-api-key", u.key)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return reply{}, u.unreachable(ctx, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	rep := reply{status: resp.StatusCode}
	switch {
	case err != nil:
		return rep, u.unreachable(ctx, err)
	case len(got) > MaxBodyBytes:
		return rep, &failure{status: http.StatusBadGateway,
			detail: fmt.Sprintf("The %s service's response is larger than 64 MiB. Base url: %s", u.name, u.base),
			err:    errors.New("upstream response over the limit")}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return rep, &failure{status: resp.StatusCode, detail: u.errorDetail(resp, got)}
	case !json.Valid(got):
		return rep, &failure{status: http.StatusBadGateway,
			detail: fmt.Sprintf("The %s service answered with a body that is not JSON. Base url: %s", u.name, u.base),
			err:    fmt.Errorf("%s service: %d with a body that is not JSON", u.name, resp.StatusCode)}
	}
	rep.payload = payloadOf(got)
	return rep, nil
}

// unreachable returns the failure of a call that got no complete answer:
// the original's detail, with 504 when the deadline passed and 502 else.
// When the client has gone, the status is StatusClientClosed.
func (u *upstream) unreachable(ctx context.Context, err error) *failure {
	f := &failure{status: http.StatusBadGateway,
		detail: fmt.Sprintf("Error connecting to the %s service. Base url: %s", u.name, u.base), err: err}
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		f.status = StatusClientClosed
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		f.status = http.StatusGatewayTimeout
	}
	return f
}

// errorDetail returns the detail of an upstream's error answer: its
// payload.detail, else its detail, else its body as text.
func (u *upstream) errorDetail(resp *http.Response, body []byte) string {
	if json.Valid(body) {
		if p, ok := member(body, "payload"); ok {
			if d, ok := member(p, "detail"); ok {
				if s, ok := jsonString(d); ok {
					return s
				}
			}
		}
		if d, ok := member(body, "detail"); ok {
			if s, ok := jsonString(d); ok {
				return s
			}
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Sprintf("The %s service answered %s with an empty body. Base url: %s", u.name, resp.Status, u.base)
	}
	if len(body) > maxDetailBytes {
		return strings.ToValidUTF8(string(body[:maxDetailBytes]), "") + " […]"
	}
	return string(body)
}

// payloadOf returns the "payload" member of the upstream's JSON body, or
// the whole body when it has none, as the original did.
func payloadOf(body []byte) json.RawMessage {
	if p, ok := member(body, "payload"); ok {
		return p
	}
	return trimSpace(body)
}
