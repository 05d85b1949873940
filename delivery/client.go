package delivery

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"approvald/approval"
)

// NewHTTPClient returns the client deliveries are sent with. It connects
// only to addresses approval.DeniedAddr allows — checked on the address
// actually dialled, after DNS, so a name cannot smuggle a request to a
// metadata service — ignores proxy settings, and follows no redirects (a
// redirect is an answer, not a delivery). Timeouts are per request.
func NewHTTPClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("delivery: unexpected address %q", address)
			}
			if why := approval.DeniedAddr(ap.Addr(), allowPrivate); why != "" {
				return fmt.Errorf("delivery: refusing to connect to %s: %s", ap.Addr(), why)
			}
			return nil
		},
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           func(ctx context.Context, n, a string) (net.Conn, error) { return dialer.DialContext(ctx, n, a) },
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: approval.MaxRuleTimeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Traced returns c with its transport traced: each delivery attempt is a
// client span, and receivers get its traceparent. Only worth its cost
// (some allocations per request) when tracing is configured.
func Traced(c *http.Client) *http.Client {
	c.Transport = otelhttp.NewTransport(c.Transport)
	return c
}
