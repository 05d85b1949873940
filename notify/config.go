package notify

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"approvald/approval"
	"approvald/signedlink"
)

// Store is what the workers need of a store: the directory (channels,
// routes, contacts, mutes, delegations), the notification queue and the
// wake-up hint.
type Store interface {
	approval.Directory
	approval.Notifications
	Changes() <-chan struct{}
}

// Config configures the Planner and the Sender. Validate fills in the
// defaults.
type Config struct {
	// PublicURL is the base URL of the server as people reach it
	// (https://approvals.example.com); links are PublicURL/ui/requests/{id}.
	PublicURL string
	// Signer signs the links' tokens.
	Signer *signedlink.Signer
	// BatchWindow is how long a notification waits for others to the same
	// target so that they go out as one digest; 0 sends at once.
	BatchWindow time.Duration
	// LinkTTL is how long a link's token stays valid (default 7 days).
	LinkTTL time.Duration
	// PersonalChannel names the email channel people's mail goes through;
	// "" means the first email channel by name.
	PersonalChannel string
	// MaxAttempts is how many times a message is tried before it is given
	// up (default 10).
	MaxAttempts int
	// Lease is how long a claimed notification is the sender's (default 2
	// minutes, above SendTimeout): after it, a crashed sender's claim is
	// offered again.
	Lease time.Duration
	// PlanLease is how long a claimed event is the planner's (default 15
	// seconds): planning only reads and writes the database, so a crashed
	// planner's events come back soon.
	PlanLease time.Duration
	// SendTimeout bounds one send (default 30 seconds).
	SendTimeout time.Duration
	// Poll is how often the workers look for work without a wake-up
	// (default 5 seconds).
	Poll time.Duration
	// Batch is how many events a planner claims at once (default 100);
	// Targets and PerTarget bound a sender's claim (defaults 10 and 100).
	Batch, Targets, PerTarget int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives what goes wrong (default slog.Default()).
	Logger *slog.Logger
	// AllowPrivate lets channels reach loopback and private addresses;
	// link-local and metadata addresses are refused always.
	AllowPrivate bool
	// Registry, when set, receives the Sender's metrics.
	Registry prometheus.Registerer
	// Getenv reads the variables that hold SMTP passwords (default os.Getenv).
	Getenv func(string) string
	// Wake, when set, returns a new wake-up channel for each Run (such as
	// delivery.Waker.Listen, where other consumers read the store's changes
	// too); by default a worker reads the store's Changes itself.
	Wake func() <-chan struct{}
}

// Validate checks c and fills in its defaults; it returns a KindInvalid
// error listing every field that is wrong.
func (c *Config) Validate() error {
	var v approval.Validation
	u, err := url.Parse(c.PublicURL)
	if c.PublicURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.Add("public_url", "must be an absolute http(s) URL without query, such as https://approvals.example.com")
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Signer == nil {
		v.Add("signer", "is required")
	}
	if c.BatchWindow < 0 || c.BatchWindow > time.Hour {
		v.Add("batch_window", "must be between 0 and 1h")
	}
	def := func(d *time.Duration, val time.Duration, field string) {
		if *d == 0 {
			*d = val
		} else if *d < 0 {
			v.Add(field, "must be positive")
		}
	}
	def(&c.LinkTTL, 7*24*time.Hour, "link_ttl")
	def(&c.Lease, 2*time.Minute, "lease")
	def(&c.PlanLease, 15*time.Second, "plan_lease")
	def(&c.SendTimeout, 30*time.Second, "send_timeout")
	def(&c.Poll, 5*time.Second, "poll")
	if c.Lease > 0 && c.SendTimeout > 0 && c.Lease <= c.SendTimeout {
		v.Add("lease", "must be longer than the send timeout")
	}
	if c.PersonalChannel != "" && !approval.ValidName(c.PersonalChannel) {
		v.Add("personal_channel", "must name a notification channel")
	}
	defInt := func(n *int, val int, field string) {
		if *n == 0 {
			*n = val
		} else if *n < 0 {
			v.Add(field, "must be positive")
		}
	}
	defInt(&c.MaxAttempts, 10, "max_attempts")
	defInt(&c.Batch, 100, "batch")
	defInt(&c.Targets, 10, "targets")
	defInt(&c.PerTarget, 100, "per_target")
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return v.Err()
}
