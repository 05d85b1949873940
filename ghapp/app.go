package ghapp

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"approvald/approval"
	"approvald/engine"
)

// Config configures an App.
type Config struct {
	// AppID is the GitHub App's id (the JWT's issuer).
	AppID int64
	// PrivateKey is the App's private key, PEM (RSA, PKCS #1 or PKCS #8).
	PrivateKey []byte
	// WebhookSecret is the App's webhook secret: deliveries must carry its
	// HMAC-SHA256 in X-Hub-Signature-256.
	WebhookSecret []byte
	// APIURL is the GitHub REST API's base URL, without a trailing slash
	// (https://api.github.com; GitHub Enterprise Server:
	// https://HOST/api/v3). Tokens and JWTs are sent nowhere else.
	APIURL string
	// ServiceRule names the service rule (format github) the requests are
	// opened on; EnsureRule creates it.
	ServiceRule string
	// PublicURL is approvald's public base URL, for the link to the
	// request's page in GitHub's comment; empty: the comment names the
	// request's id instead.
	PublicURL string
	// Client makes the calls to GitHub (default: a client with a 30 s
	// timeout); each call is also bounded by the service rule's timeout.
	Client *http.Client
	// Logger logs refused deliveries and the App's calls (default: none).
	Logger *slog.Logger
	// Registerer, when set, gets the App's metrics.
	Registerer prometheus.Registerer
	// Now is the clock of JWTs and token expiry (default time.Now).
	Now func() time.Time
}

// App is approvald's GitHub App: the webhook of deployment_protection_rule
// events (ServeWebhook) and the delivery.Sender of the github format (Send).
// It is safe for concurrent use.
type App struct {
	cfg       Config
	eng       *engine.Engine
	key       *rsa.PrivateKey
	api       *url.URL // cfg.APIURL with a trailing slash, as go-github wants it
	requester approval.Principal
	log       *slog.Logger
	webhooks  *prometheus.CounterVec
	tokens    tokenCache
	subjects  keyedMutex
}

// MaxWebhookBytes is the largest webhook delivery accepted: GitHub caps its
// payloads at 25 MB, but a deployment_protection_rule event is a few KiB;
// a larger body is refused (413) before its signature is checked.
const MaxWebhookBytes = 1 << 20

// The results of approvald_github_webhooks_total.
const (
	ResultAccepted     = "accepted"      // a request was opened
	ResultDuplicate    = "duplicate"     // a redelivery, or an event of a run whose request is open: the existing request
	ResultIgnored      = "ignored"       // ping, another event or another action
	ResultBadSignature = "bad_signature" // X-Hub-Signature-256 does not match (or is not sha256=…)
	ResultUnsigned     = "unsigned"      // no X-Hub-Signature-256 (sha1-only deliveries too)
	ResultMalformed    = "malformed"     // too large, not JSON, missing headers or fields, a callback URL not the API's
	ResultError        = "error"         // opening the request failed
)

var results = []string{ResultAccepted, ResultDuplicate, ResultIgnored, ResultBadSignature, ResultUnsigned, ResultMalformed, ResultError}

// New returns the App of cfg on eng. It returns an error naming the setting
// when the private key does not parse as an RSA key, the webhook secret is
// empty, the API URL is not an http(s) URL, or the App id or the service
// rule is missing; the error never shows a secret.
func New(cfg Config, eng *engine.Engine) (*App, error) {
	if eng == nil {
		return nil, errors.New("ghapp: no engine")
	}
	if cfg.AppID <= 0 {
		return nil, fmt.Errorf("ghapp: the App id must be a positive number, not %d", cfg.AppID)
	}
	key, err := ParsePrivateKey(cfg.PrivateKey)
	if err != nil {
		return nil, err
	}
	if len(cfg.WebhookSecret) == 0 {
		return nil, errors.New("ghapp: the webhook secret is empty")
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	api, err := ParseAPIURL(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	if cfg.ServiceRule == "" {
		return nil, errors.New("ghapp: no service rule named")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	webhooks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "approvald_github_webhooks_total",
		Help: "GitHub webhook deliveries, by result (accepted, duplicate, ignored, bad_signature, unsigned, malformed, error).",
	}, []string{"result"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(webhooks); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("ghapp: metrics: %w", err)
			}
			webhooks = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	for _, r := range results {
		webhooks.WithLabelValues(r) // every result shows, at 0
	}
	a := &App{
		cfg: cfg, eng: eng, key: key, api: api, log: cfg.Logger.With("component", "github"), webhooks: webhooks,
		requester: approval.Principal{ID: "github-app:" + strconv.FormatInt(cfg.AppID, 10), Scopes: []approval.Scope{approval.ScopeCreate}},
	}
	a.tokens.m = map[int64]*cachedToken{}
	return a, nil
}

// ParsePrivateKey returns the RSA private key of a PEM block (PKCS #1 or
// PKCS #8), or an error that does not show the key.
func ParsePrivateKey(pem []byte) (*rsa.PrivateKey, error) {
	if len(pem) == 0 {
		return nil, errors.New("ghapp: the App's private key is empty")
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pem)
	if err != nil {
		// jwt's errors name the PEM type at most, never key material.
		return nil, fmt.Errorf("ghapp: the App's private key is not a PEM RSA private key: %w", err)
	}
	return key, nil
}

// ParseAPIURL returns the GitHub API base URL raw, with a trailing slash,
// or an error when it is not an absolute http or https URL without
// credentials, query or fragment.
func ParseAPIURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/") + "/")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("ghapp: the GitHub API URL %q is not an absolute http or https URL without credentials, query or fragment", raw)
	}
	return u, nil
}

// Requester returns the principal the App opens requests as:
// github-app:<app id>, with the create scope.
func (a *App) Requester() approval.Principal { return a.requester }

// system is the principal EnsureRule acts as: creating a service rule is
// an admin's change.
var system = approval.Principal{ID: "system:github-app", Scopes: []approval.Scope{approval.ScopeAdmin}}

// EnsureRule makes sure the service rule cfg.ServiceRule exists with the
// github format and cfg.APIURL as its URL: it creates it when missing and
// points an existing github rule at cfg.APIURL. It returns an error when a
// rule of that name has another format (approvald must not start: its
// decisions would go to a receiver that is not GitHub) or when the store
// fails.
func (a *App) EnsureRule(ctx context.Context) error {
	for range 3 {
		rule, err := a.eng.Rule(ctx, a.cfg.ServiceRule)
		switch {
		case approval.KindOf(err) == approval.KindNotFound:
			_, err = a.eng.CreateRule(ctx, system, approval.ServiceRule{Name: a.cfg.ServiceRule, URL: a.cfg.APIURL, Format: approval.FormatGitHub})
			if approval.KindOf(err) == approval.KindConflict {
				continue // created at the same time by another approvald
			}
			if err != nil {
				return fmt.Errorf("creating the service rule %q: %w", a.cfg.ServiceRule, err)
			}
			a.log.Info("created the service rule of the GitHub App", "rule", a.cfg.ServiceRule, "url", a.cfg.APIURL)
			return nil
		case err != nil:
			return fmt.Errorf("reading the service rule %q: %w", a.cfg.ServiceRule, err)
		case rule.Format != approval.FormatGitHub:
			return fmt.Errorf("the service rule %q exists with the format %q; the GitHub App needs a rule of the format %q (choose another name with --github-service-rule)",
				a.cfg.ServiceRule, rule.Format, approval.FormatGitHub)
		case rule.URL != a.cfg.APIURL:
			if _, err := a.eng.UpdateRule(ctx, system, a.cfg.ServiceRule, func(r *approval.ServiceRule) { r.URL = a.cfg.APIURL }); err != nil {
				return fmt.Errorf("pointing the service rule %q at %s: %w", a.cfg.ServiceRule, a.cfg.APIURL, err)
			}
			a.log.Info("pointed the service rule of the GitHub App at the configured API", "rule", a.cfg.ServiceRule, "was", rule.URL, "url", a.cfg.APIURL)
			return nil
		default:
			return nil
		}
	}
	return fmt.Errorf("creating the service rule %q: it kept conflicting", a.cfg.ServiceRule)
}

// keyedMutex serializes work by key (a request's subject), so that two
// events of one run arriving at once open one request.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

// lock locks key and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
