package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxResponseLen bounds a discovery document or a JWKS.
const maxResponseLen = 1 << 20

// checkURL returns an error unless u is an absolute https URL, or an http
// URL of a loopback host.
func checkURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("invalid URL %q", clip(u))
	}
	return checkParsedURL(p)
}

func checkParsedURL(p *url.URL) error {
	if p.Host == "" {
		return fmt.Errorf("URL %q has no host", clip(p.Redacted()))
	}
	switch p.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(p.Hostname()) {
			return nil
		}
		return fmt.Errorf("plain http URL %q refused: use https (http is allowed for loopback hosts only)", clip(p.Redacted()))
	default:
		return fmt.Errorf("URL %q: scheme must be https", clip(p.Redacted()))
	}
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// secureTransport refuses non-https URLs (so redirects too) and bounds
// response bodies.
type secureTransport struct{ base http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (s secureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkParsedURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	resp, err := s.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxResponseLen}
	return resp, nil
}

// guard is the transport of the provider's HTTP client. It is a
// secureTransport that also throttles fetches of the JWKS: within interval
// of the last fetch, the last response is answered again instead.
type guard struct {
	secure   secureTransport
	inner    *http.Client // fetches the JWKS, following redirects
	now      func() time.Time
	interval time.Duration

	mu      sync.Mutex
	jwksURL string    // normalised; set once before any JWKS fetch
	fetched time.Time // when the JWKS was last fetched; zero before
	body    []byte    // the last JWKS fetched, if it was a 200
	header  http.Header
	lastErr error // why the last fetch failed, if it did
}

func (g *guard) setJWKS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("oidc: jwks_uri: invalid URL %q", clip(raw))
	}
	g.mu.Lock()
	g.jwksURL = u.String()
	g.mu.Unlock()
	return nil
}

// RoundTrip implements http.RoundTripper.
func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	isJWKS := req.Method == http.MethodGet && g.jwksURL != "" && req.URL.String() == g.jwksURL
	g.mu.Unlock()
	if isJWKS {
		return g.jwks(req)
	}
	return g.secure.RoundTrip(req)
}

// jwks answers a request for the JWKS, from the network at most once per
// interval. When a fetch fails, the last key set fetched, if any, is
// answered instead (stale if error), so that an outage of the provider does
// not refuse keys already known.
func (g *guard) jwks(req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	now := g.now()
	if since := now.Sub(g.fetched); !g.fetched.IsZero() && since >= 0 && since < g.interval {
		body, header, lastErr := g.body, g.header, g.lastErr
		g.mu.Unlock()
		if body == nil {
			if lastErr == nil {
				lastErr = errors.New("a fetch is in progress")
			}
			return nil, fmt.Errorf("key set fetch throttled: last fetch: %w", lastErr)
		}
		return cachedResponse(req, body, header), nil
	}
	g.fetched = now
	g.mu.Unlock()

	body, header, err := g.fetch(req)

	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastErr = err
	if err == nil {
		g.body, g.header = body, header
	} else if g.body == nil {
		return nil, err
	}
	return cachedResponse(req, g.body, g.header), nil
}

func (g *guard) fetch(req *http.Request) ([]byte, http.Header, error) {
	out, err := http.NewRequestWithContext(req.Context(), http.MethodGet, req.URL.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	out.Header = req.Header.Clone()
	resp, err := g.inner.Do(out)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // bounded by secureTransport
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("key set fetch: %s", resp.Status)
	}
	return body, resp.Header.Clone(), nil
}

func cachedResponse(req *http.Request, body []byte, header http.Header) *http.Response {
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// limitedBody fails a read past its limit instead of ending it quietly, so
// that an oversized document is an error rather than truncated JSON.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Is there more? Read one byte to tell the end from an overflow.
		var one [1]byte
		n, err := l.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("response is over %d bytes", maxResponseLen)
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// prefetchKeys fetches the JWKS once, through the guard (which keeps it for
// go-oidc's first fetch), so that New fails on a key set it cannot use.
func prefetchKeys(ctx context.Context, client *http.Client, jwksURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return fmt.Errorf("oidc: jwks_uri: %s", clip(err.Error()))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("oidc: fetching the key set failed: %s", clip(err.Error()))
	}
	defer resp.Body.Close()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return fmt.Errorf("oidc: the key set at %s is not a JWKS: %s", clip(jwksURL), clip(err.Error()))
	}
	if len(set.Keys) == 0 {
		return fmt.Errorf("oidc: the key set at %s has no keys", clip(jwksURL))
	}
	return nil
}
