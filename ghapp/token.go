package ghapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-github/v84/github"

	"approvald/delivery"
)

// JWT lifetimes: GitHub refuses an App JWT that expires more than 10
// minutes after it was issued; iat is backdated a minute against clock
// drift, as GitHub advises.
const (
	jwtBackdate = 60 * time.Second
	jwtLifetime = 9 * time.Minute
	// tokenMargin: a cached installation token is used until this long
	// before it expires, so that none expires in flight.
	tokenMargin = time.Minute
)

// tokenCache holds an installation access token per installation.
type tokenCache struct {
	mu sync.Mutex
	m  map[int64]*cachedToken
}

// cachedToken is one installation's token; its own mutex makes callers of
// the same installation wait for one exchange instead of each making one.
type cachedToken struct {
	mu      sync.Mutex
	token   string
	expires time.Time
}

// entry returns the cache entry of installation id.
func (c *tokenCache) entry(id int64) *cachedToken {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[id]
	if e == nil {
		e = &cachedToken{}
		c.m[id] = e
	}
	return e
}

// drop forgets installation id's token when it is still token (GitHub
// refused it), so that the next call exchanges a new one; a newer token
// another caller already took is kept.
func (c *tokenCache) drop(id int64, token string) {
	e := c.entry(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.token == token {
		e.token, e.expires = "", time.Time{}
	}
}

// AppJWT returns a JWT authenticating as the App, issued at now: RS256, iss
// the App id, iat backdated a minute, exp nine minutes after now.
func (a *App) AppJWT(now time.Time) (string, error) {
	claims := jwt.RegisteredClaims{
		Issuer:    strconv.FormatInt(a.cfg.AppID, 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-jwtBackdate)),
		ExpiresAt: jwt.NewNumericDate(now.Add(jwtLifetime)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
}

// client returns a go-github client of the configured API authenticating
// with token (an App JWT or an installation token).
func (a *App) client(token string) *github.Client {
	c := github.NewClient(a.cfg.Client).WithAuthToken(token)
	c.BaseURL = a.api
	c.UserAgent = "approvald"
	return c
}

// token returns an installation access token of installation id: the
// cached one while it has more than tokenMargin left, else a new one from
// GitHub. A failure is the Outcome to report (the token exchange's 401 —
// the JWT refused, often clock skew — and 5xx retryable; 404, the App not
// installed there, permanent).
func (a *App) token(ctx context.Context, id int64) (string, *delivery.Outcome) {
	e := a.tokens.entry(id)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := a.cfg.Now()
	if e.token != "" && now.Before(e.expires.Add(-tokenMargin)) {
		return e.token, nil
	}
	signed, err := a.AppJWT(now)
	if err != nil {
		return "", &delivery.Outcome{Reason: "signing the App's JWT failed: " + err.Error()}
	}
	tok, _, err := a.client(signed).Apps.CreateInstallationToken(ctx, id, nil)
	if err != nil {
		out := a.classify(ctx, err, "creating an installation access token")
		if resp := responseOf(err); resp != nil {
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				out = delivery.Outcome{Retryable: true, Reason: fmt.Sprintf("GitHub refused the App's JWT when creating an installation access token (401: %s): check the App id, its private key and this server's clock", messageOf(err))}
			case http.StatusNotFound:
				out = delivery.Outcome{Reason: fmt.Sprintf("GitHub knows no installation %d of the App (404): was the App uninstalled?", id)}
			}
		}
		a.log.Warn("creating a GitHub installation access token failed", "installation", id, "reason", out.Reason, "retryable", out.Retryable)
		return "", &out
	}
	if tok.GetToken() == "" {
		return "", &delivery.Outcome{Retryable: true, Reason: "GitHub's answer to the installation access token request held no token"}
	}
	e.token = tok.GetToken()
	e.expires = tok.GetExpiresAt().Time
	if e.expires.IsZero() {
		e.expires = now.Add(time.Hour) // GitHub's documented lifetime
	}
	a.log.Debug("took a GitHub installation access token", "installation", id, "expires_at", e.expires)
	return e.token, nil
}

// responseOf returns the HTTP response of a go-github error, nil for a
// transport error.
func responseOf(err error) *http.Response {
	var er *github.ErrorResponse
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	switch {
	case errors.As(err, &rl):
		return rl.Response
	case errors.As(err, &ab):
		return ab.Response
	case errors.As(err, &er):
		return er.Response
	}
	return nil
}

// messageOf returns GitHub's message in a go-github error ("" for none),
// cut to 200 bytes.
func messageOf(err error) string {
	var msg string
	var er *github.ErrorResponse
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	switch {
	case errors.As(err, &rl):
		msg = rl.Message
	case errors.As(err, &ab):
		msg = ab.Message
	case errors.As(err, &er):
		msg = er.Message
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}
