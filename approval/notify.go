package approval

import (
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// NotifyKind is what a notification tells its recipient. Each change of a
// request that people should hear about carries one (Event.Notify), decided
// here in the domain and written to the outbox in the change's transaction.
type NotifyKind string

// The kinds of notification.
const (
	// NotifyReviewRequested asks the reviewers of the open stage to act: a
	// request was created, a stage opened, or an edit voided the reviews.
	NotifyReviewRequested NotifyKind = "review_requested"
	// NotifyReminder repeats it when the request's reminder is due.
	NotifyReminder NotifyKind = "reminder"
	// NotifyEscalation tells the escalation reviewers of a rule that they
	// may now review.
	NotifyEscalation NotifyKind = "escalation"
	// NotifyDecision tells the requester how the request was decided.
	NotifyDecision NotifyKind = "decision"
	// NotifyDeliveryFailed tells the requester and the admins that the
	// decision could not be delivered to the service rule.
	NotifyDeliveryFailed NotifyKind = "delivery_failed"
	// NotifyExpired tells the requester that the deadline passed undecided.
	NotifyExpired NotifyKind = "expired"
)

// NotifyKinds returns every kind of notification.
func NotifyKinds() []NotifyKind {
	return []NotifyKind{NotifyReviewRequested, NotifyReminder, NotifyEscalation, NotifyDecision, NotifyDeliveryFailed, NotifyExpired}
}

// ValidNotifyKind reports whether k is a known kind.
func ValidNotifyKind(k NotifyKind) bool { return slices.Contains(NotifyKinds(), k) }

// ChannelType is how a notification channel sends.
type ChannelType string

// The channel types.
const (
	ChannelEmail ChannelType = "email" // SMTP submission
	ChannelSlack ChannelType = "slack" // a Slack (or Mattermost, Rocket.Chat) incoming webhook, Block Kit
	ChannelTeams ChannelType = "teams" // a Microsoft Teams Workflows webhook, Adaptive Card
)

// The TLS modes of an email channel.
const (
	TLSNone     = "none"     // plain SMTP (tests, a local relay)
	TLSStartTLS = "starttls" // STARTTLS, required
	TLSImplicit = "tls"      // implicit TLS (SMTPS, port 465)
)

// Limits on the notification settings. They are part of the API contract.
const (
	MaxChannelURLLen    = 2048
	MaxEmailLen         = 254 // characters of an address (RFC 5321's path limit)
	MaxGroupEmails      = 100 // member addresses of one group contact
	MaxRouteEvents      = 6   // kinds one route lists (all of them)
	MaxDelegationAhead  = 366 * 24 * time.Hour
	MaxDelegationReason = 500 // characters
)

// EmailSettings are an email channel's SMTP submission settings. The
// password is never stored: PasswordFile names a file (a mounted secret)
// and PasswordEnv an environment variable that holds it; they are read
// when a mail is sent.
type EmailSettings struct {
	Host         string `json:"host"`
	Port         int    `json:"port"`
	TLS          string `json:"tls"`
	From         string `json:"from"`
	Username     string `json:"username,omitempty"`
	PasswordFile string `json:"password_file,omitempty"`
	PasswordEnv  string `json:"password_env,omitempty"`
}

// NotificationChannel is a way of sending notifications, kept by admins.
type NotificationChannel struct {
	Name  string         `json:"name"`
	Type  ChannelType    `json:"type"`
	Email *EmailSettings `json:"email,omitempty"`
	// URL is the chat webhook (slack, teams). It is a secret (whoever has it
	// can post): the API shows it only as RedactedURL.
	URL       string    `json:"-"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RedactedURL returns the channel's URL with everything after the host
// replaced, safe to show; "" when there is none.
func (c NotificationChannel) RedactedURL() string {
	u, err := url.Parse(c.URL)
	if c.URL == "" || err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Validate checks c. allowPrivate is as for service rules: link-local and
// metadata addresses are refused always, loopback and private ones unless
// allowed.
func (c *NotificationChannel) Validate(allowPrivate bool) error {
	var v Validation
	if !ValidName(c.Name) {
		v.Add("name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	switch c.Type {
	case ChannelEmail:
		if c.URL != "" {
			v.Add("url", "an email channel has no url")
		}
		if c.Email == nil {
			v.Add("email", "an email channel needs its SMTP settings")
			break
		}
		c.Email.validate(&v, allowPrivate)
	case ChannelSlack, ChannelTeams:
		if c.Email != nil {
			v.Add("email", "only an email channel has SMTP settings")
		}
		if c.URL == "" {
			v.Add("url", "a %s channel needs its webhook url", c.Type)
			break
		}
		var uv Validation
		checkRuleURL(&uv, c.URL, allowPrivate)
		if len(c.URL) > MaxChannelURLLen {
			uv.Add("url", "must be at most %d characters", MaxChannelURLLen)
		}
		for _, f := range uv.fields {
			v.Add(f.Field, "%s", f.Message) // the message never repeats the URL
		}
	default:
		v.Add("type", "must be %q, %q or %q", ChannelEmail, ChannelSlack, ChannelTeams)
	}
	return v.Err()
}

func (s *EmailSettings) validate(v *Validation, allowPrivate bool) {
	if s.TLS == "" {
		s.TLS = TLSStartTLS
	}
	if s.Port == 0 {
		s.Port = map[string]int{TLSNone: 25, TLSStartTLS: 587, TLSImplicit: 465}[s.TLS]
	}
	host := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(s.Host, "["), "]"), ".")
	if host == "" || len(host) > 253 || strings.ContainsFunc(host, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("/@?#", r)
	}) {
		v.Add("email.host", "must be a host name or address")
	} else {
		checkHost(v, "email.host", host, allowPrivate)
	}
	if s.Port < 1 || s.Port > 65535 {
		v.Add("email.port", "must be between 1 and 65535")
	}
	if s.TLS != TLSNone && s.TLS != TLSStartTLS && s.TLS != TLSImplicit {
		v.Add("email.tls", "must be %q, %q or %q", TLSNone, TLSStartTLS, TLSImplicit)
	}
	if a, err := mail.ParseAddress(s.From); err != nil || len(a.Address) > MaxEmailLen {
		v.Add("email.from", "must be an email address such as approvald@example.com or \"Approvals <approvald@example.com>\"")
	}
	if s.PasswordFile != "" && s.PasswordEnv != "" {
		v.Add("email.password_file", "give password_file or password_env, not both")
	}
	if (s.PasswordFile != "" || s.PasswordEnv != "") && s.Username == "" {
		v.Add("email.username", "a password needs a username")
	}
	if s.PasswordEnv != "" && !validEnvName(s.PasswordEnv) {
		v.Add("email.password_env", "must be an environment variable name such as SMTP_PASSWORD")
	}
	if len(s.PasswordFile) > 1024 || strings.ContainsRune(s.PasswordFile, 0) {
		v.Add("email.password_file", "must be a file path of at most 1024 bytes")
	}
	checkText(v, "email.username", s.Username, 256, false)
}

func validEnvName(s string) bool {
	if s == "" || len(s) > 128 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'))
	})
}

// Route scopes: which requests a route is about.
const (
	RouteAll         = "all"           // every request
	RouteServiceRule = "service_rule:" // + a service rule's name
	RoutePolicy      = "policy:"       // + a stored policy's name (the request's mandate)
	RouteGroup       = "group:"        // + a group that may review the request
)

// NotificationRoute sends the notifications of Events (every kind when
// empty) about the requests in Scope to Channel.
type NotificationRoute struct {
	ID        int64        `json:"id"`
	Channel   string       `json:"channel"`
	Events    []NotifyKind `json:"events"`
	Scope     string       `json:"scope"`
	CreatedAt time.Time    `json:"created_at"`
}

// Validate checks rt (the channel's existence is the store's to check).
func (rt *NotificationRoute) Validate() error {
	var v Validation
	if !ValidName(rt.Channel) {
		v.Add("channel", "must name a notification channel")
	}
	if rt.Events == nil {
		rt.Events = []NotifyKind{}
	}
	seen := map[NotifyKind]bool{}
	for i, k := range rt.Events {
		switch {
		case !ValidNotifyKind(k):
			v.Add(fmt.Sprintf("events[%d]", i), "must be one of %s", joinKinds(NotifyKinds()))
		case seen[k]:
			v.Add(fmt.Sprintf("events[%d]", i), "%s is listed twice", k)
		}
		seen[k] = true
	}
	if rt.Scope == "" {
		rt.Scope = RouteAll
	}
	if _, _, ok := rt.scope(); !ok {
		v.Add("scope", "must be %q, or %q, %q or %q followed by a name", RouteAll, RouteServiceRule, RoutePolicy, RouteGroup)
	}
	return v.Err()
}

// scope splits rt.Scope into its kind and name.
func (rt NotificationRoute) scope() (kind, name string, ok bool) {
	if rt.Scope == RouteAll {
		return RouteAll, "", true
	}
	for _, k := range []string{RouteServiceRule, RoutePolicy, RouteGroup} {
		if n, found := strings.CutPrefix(rt.Scope, k); found {
			return k, n, n != "" && utf8.RuneCountInString(n) <= 128 && !strings.ContainsFunc(n, unicode.IsSpace)
		}
	}
	return "", "", false
}

// Matches reports whether rt sends notifications of kind k about r.
func (rt NotificationRoute) Matches(k NotifyKind, r *Request) bool {
	if len(rt.Events) > 0 && !slices.Contains(rt.Events, k) {
		return false
	}
	kind, name, _ := rt.scope()
	switch kind {
	case RouteAll:
		return true
	case RouteServiceRule:
		return r.ServiceRule == name
	case RoutePolicy:
		src, _, _ := strings.Cut(r.PolicySource, "+")
		return src == "policy:"+name
	case RouteGroup:
		for _, st := range r.Policy.stages() {
			for _, rule := range st.Rules {
				if slices.Contains(rule.Groups, name) || slices.Contains(rule.EscalateTo.Groups, name) {
					return true
				}
			}
		}
	}
	return false
}

func joinKinds(ks []NotifyKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// The sources of a person's contact address, in order of precedence.
const (
	ContactAdmin  = "admin"   // set by an admin in the directory (/v1/contacts)
	ContactOIDC   = "oidc"    // the email claim of the person's last OIDC sign-in
	ContactAPIKey = "api_key" // given when the principal's API key was created
)

// Contact is where to reach a principal or a group. A principal's contact
// has Email; a group's has a Channel (a team's chat) and/or member Emails.
// Admin contacts also receive delivery failures.
type Contact struct {
	Principal string    `json:"principal,omitempty"`
	Group     string    `json:"group,omitempty"`
	Email     string    `json:"email,omitempty"`
	Emails    []string  `json:"emails,omitempty"`
	Channel   string    `json:"channel,omitempty"`
	Admin     bool      `json:"admin,omitempty"`
	Source    string    `json:"source"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Key returns the directory key of c: its principal, or "group:" and its group.
func (c Contact) Key() string {
	if c.Group != "" {
		return RouteGroup + c.Group
	}
	return c.Principal
}

// Validate checks c.
func (c *Contact) Validate() error {
	var v Validation
	switch {
	case (c.Principal == "") == (c.Group == ""):
		v.Add("principal", "give principal or group, not both")
	case c.Principal != "":
		if !ValidPrincipal(c.Principal) {
			v.Add("principal", "must be a principal such as user:alice")
		}
		if c.Email == "" {
			v.Add("email", "is required")
		}
		if len(c.Emails) > 0 || c.Channel != "" {
			v.Add("emails", "only a group's contact has emails or a channel")
		}
	default:
		if utf8.RuneCountInString(c.Group) > 128 || strings.ContainsFunc(c.Group, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			v.Add("group", "must be 1-128 characters without spaces")
		}
		if c.Email != "" {
			v.Add("email", "a group's contact lists emails, not email")
		}
		if len(c.Emails) == 0 && c.Channel == "" {
			v.Add("emails", "a group's contact needs emails or a channel")
		}
		if c.Channel != "" && !ValidName(c.Channel) {
			v.Add("channel", "must name a notification channel")
		}
		if len(c.Emails) > MaxGroupEmails {
			v.Add("emails", "at most %d addresses are allowed", MaxGroupEmails)
		}
	}
	if c.Email != "" {
		if a, ok := ValidEmail(c.Email); !ok {
			v.Add("email", "must be an email address such as alice@example.com")
		} else {
			c.Email = a
		}
	}
	for i, e := range c.Emails {
		if a, ok := ValidEmail(e); !ok {
			v.Add(fmt.Sprintf("emails[%d]", i), "must be an email address such as alice@example.com")
		} else {
			c.Emails[i] = a
		}
	}
	switch c.Source {
	case "":
		c.Source = ContactAdmin
	case ContactAdmin, ContactOIDC, ContactAPIKey:
	default:
		v.Add("source", "must be %q, %q or %q", ContactAdmin, ContactOIDC, ContactAPIKey)
	}
	return v.Err()
}

// ValidEmail parses a bare address (no display name) and returns it.
func ValidEmail(s string) (string, bool) {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > MaxEmailLen || !strings.Contains(s, "@") {
		return "", false
	}
	return a.Address, true
}

// Notification is one message to one recipient, queued by the notifier
// from an outbox event and sent, possibly in a digest with the recipient's
// other notifications, by the sender. Key deduplicates it: one per request,
// version, recipient and kind.
type Notification struct {
	ID        int64      `json:"id"`
	Key       string     `json:"-"`
	RequestID string     `json:"request_id"`
	Version   int64      `json:"version"`
	Kind      NotifyKind `json:"kind"`
	// Recipient is the principal told ("user:alice"), or "channel:<name>"
	// for a route or a group's chat.
	Recipient string `json:"recipient"`
	// Channel is the channel that sends it; Address the email address
	// ("" for a chat channel).
	Channel string `json:"channel"`
	Address string `json:"address,omitempty"`
	// Data is what the message shows (a summary of the request as of the
	// change), rendered when it is sent.
	Data      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// DueAt is when it is sent at the latest: CreatedAt plus the batching
	// window; the recipient's notifications that are queued then go out in
	// one message.
	DueAt       time.Time  `json:"due_at"`
	Attempts    int        `json:"attempts"`
	NextAttempt time.Time  `json:"next_attempt_at"`
	LastError   string     `json:"last_error,omitempty"`
	SentAt      *time.Time `json:"sent_at"`
	// FailedAt is set when the sender gave up.
	FailedAt *time.Time `json:"failed_at"`
}

// NotificationKey returns the deduplication key of a notification.
func NotificationKey(requestID string, version int64, recipient string, k NotifyKind) string {
	return fmt.Sprintf("%s|%d|%s|%s", requestID, version, recipient, k)
}

// Target returns what a notification is sent to: the channel and the
// address. The sender batches per target.
func (n Notification) Target() string { return n.Channel + "|" + n.Address }

// NotificationResult is the outcome of sending the notifications IDs (one
// message).
type NotificationResult struct {
	IDs         []int64
	Sent        bool      // the channel took the message
	GiveUp      bool      // not sent and not to be tried again
	NextAttempt time.Time // when neither: when to try again
	LastError   string
	At          time.Time
}

// NotificationFilter selects notifications for the admin's list, newest first.
type NotificationFilter struct {
	RequestID string
	Failed    bool  // only those given up
	Pending   bool  // only those not sent and not given up
	Before    int64 // keyset cursor: ids below this, when not zero
	Limit     int
}

// NotificationStats describes the queue (for metrics).
type NotificationStats struct {
	Pending       int64
	Failed        int64
	OldestPending time.Time // zero when none
}

// Recipients are who a notification of some kind about a request is for:
// principals and groups, and whether anyone with the review scope may act
// (a rule without listed reviewers, which only routes can reach).
type Recipients struct {
	Principals []string
	Groups     []string
	Anyone     bool
}

// Recipients returns who a notification of kind k about r is for: for
// review_requested and reminder the reviewers the open stage still needs
// (never the requester unless the policy allows self-review); for
// escalation the escalation reviewers of the rules escalated by r's latest
// change; for the others the requester.
func (r *Request) Recipients(k NotifyKind) Recipients {
	var out Recipients
	switch k {
	case NotifyReviewRequested, NotifyReminder:
		for _, rp := range r.Progress().Rules {
			if !rp.Open || rp.Satisfied {
				continue
			}
			out.Anyone = out.Anyone || rp.MayApprove.Anyone
			out.Principals = append(out.Principals, rp.MayApprove.Principals...)
			out.Groups = append(out.Groups, rp.MayApprove.Groups...)
		}
	case NotifyEscalation:
		for _, esc := range r.Escalations {
			if !esc.At.Equal(r.UpdatedAt) {
				continue
			}
			for si, st := range r.Policy.stages() {
				for _, rule := range st.Rules {
					if si == esc.Stage && rule.Name == esc.Rule {
						out.Principals = append(out.Principals, rule.EscalateTo.Principals...)
						out.Groups = append(out.Groups, rule.EscalateTo.Groups...)
					}
				}
			}
		}
	default:
		out.Principals = []string{r.Requester}
	}
	if k != NotifyDecision && k != NotifyExpired && k != NotifyDeliveryFailed && !r.Policy.AllowSelfReview {
		out.Principals = slices.DeleteFunc(out.Principals, func(p string) bool { return p == r.Requester })
	}
	slices.Sort(out.Principals)
	out.Principals = slices.Compact(out.Principals)
	slices.Sort(out.Groups)
	out.Groups = slices.Compact(out.Groups)
	return out
}
