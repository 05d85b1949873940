package notify

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	gomail "github.com/wneessen/go-mail"

	"approvald/approval"
)

// EmailSender sends mails by SMTP submission with the settings of an email
// channel. The zero value is not usable; use NewEmailSender.
type EmailSender struct {
	allowPrivate bool
	timeout      time.Duration
	getenv       func(string) string
	// roots, when set, replaces the system's roots (tests).
	roots *x509.CertPool
}

// NewEmailSender returns a sender that connects only to addresses
// approval.DeniedAddr allows (checked on the address dialled, after DNS)
// and gives each mail timeout to be submitted. getenv reads a channel's
// PasswordEnv (os.Getenv when nil).
func NewEmailSender(allowPrivate bool, timeout time.Duration, getenv func(string) string) *EmailSender {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &EmailSender{allowPrivate: allowPrivate, timeout: timeout, getenv: getenv}
}

// ThreadRoot returns the Message-ID, without angle brackets, that the mails
// about request id thread under: approval.<id>@<the domain of from>.
func ThreadRoot(requestID, from string) string {
	domain := "approvald.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	return "approval." + requestID + "@" + domain
}

// messageIDs returns the Message-ID of a mail telling of items and the
// thread root it replies to ("" for none). A mail about one request
// threads under the request's root; the first mail of a request — review
// requested at version 1 — is the root itself, so that a client shows
// every later one under it. Other mails get a random id.
func messageIDs(items []Data, from string) (id, root string) {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails
	random := hex.EncodeToString(b)
	first := items[0]
	for _, d := range items[1:] {
		if d.RequestID != first.RequestID {
			first.RequestID = ""
			break
		}
	}
	if first.RequestID == "" {
		return ThreadRoot("digest."+random, from), ""
	}
	root = ThreadRoot(first.RequestID, from)
	if len(items) == 1 && first.Kind == approval.NotifyReviewRequested && first.Version == 1 {
		return root, ""
	}
	return ThreadRoot(fmt.Sprintf("%s.v%d.%s", first.RequestID, first.Version, random), from), root
}

// Send submits one mail to address telling of items, through the SMTP
// server of ch. The password, when the channel has one, is read now from
// its file or environment variable; it never appears in an error. An
// error the server gave as permanent (a 5xx reply to the recipient or the
// message) is marked Permanent.
func (s *EmailSender) Send(ctx context.Context, ch *approval.NotificationChannel, address string, items []Data) error {
	if ch.Email == nil {
		return Permanent(fmt.Errorf("channel %q has no SMTP settings", ch.Name))
	}
	set := *ch.Email
	content, err := RenderEmail(items)
	if err != nil {
		return Permanent(err)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(set.From); err != nil {
		return Permanent(fmt.Errorf("channel %q: the From address is not valid", ch.Name))
	}
	if err := msg.To(address); err != nil {
		return Permanent(fmt.Errorf("the recipient's address is not valid"))
	}
	msg.Subject(content.Subject)
	id, root := messageIDs(items, set.From)
	msg.SetMessageIDWithValue(id)
	if root != "" {
		msg.SetGenHeader(gomail.HeaderInReplyTo, "<"+root+">")
		msg.SetGenHeader(gomail.HeaderReferences, "<"+root+">")
	}
	msg.SetDate()
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, content.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, content.HTML)

	opts, password, err := s.options(ch.Name, set)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(strings.TrimSuffix(strings.TrimPrefix(set.Host, "["), "]"), opts...)
	if err != nil {
		return Permanent(fmt.Errorf("channel %q: %s", ch.Name, scrub(err.Error(), password)))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return Permanent(fmt.Errorf("the SMTP server refused the mail: %s", scrub(err.Error(), password)))
		}
		return fmt.Errorf("sending by SMTP: %s", scrub(err.Error(), password))
	}
	return nil
}

// scrub returns msg with secret removed: go-mail does not put passwords in
// its errors, and this keeps it so should a server echo one.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "[redacted]")
}

// options returns the go-mail options for settings set.
func (s *EmailSender) options(channel string, set approval.EmailSettings) (_ []gomail.Option, password string, _ error) {
	host := strings.TrimSuffix(strings.TrimPrefix(set.Host, "["), "]")
	tlsConf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	tlsConf.RootCAs = s.roots
	dialer := &net.Dialer{Timeout: s.timeout, Control: s.control}
	opts := []gomail.Option{
		gomail.WithPort(set.Port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(tlsConf),
	}
	switch set.TLS {
	case approval.TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithDialContextFunc(dialer.DialContext))
	case approval.TLSImplicit:
		// With a dial function of its own go-mail does not wrap the
		// connection in TLS: ours does, on the checked dialer.
		td := &tls.Dialer{NetDialer: dialer, Config: tlsConf}
		opts = append(opts, gomail.WithSSL(), gomail.WithDialContextFunc(td.DialContext))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithDialContextFunc(dialer.DialContext))
	}
	if set.Username != "" {
		var err error
		if password, err = s.password(set); err != nil {
			return nil, "", fmt.Errorf("channel %q: %w", channel, err)
		}
		// PLAIN and LOGIN only over TLS (go-mail refuses them otherwise,
		// except to localhost): a password never crosses the network in clear.
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(set.Username), gomail.WithPassword(password))
	}
	return opts, password, nil
}

// password reads the SMTP password of set, at send time so that a rotated
// secret takes effect without a restart. Its errors never show it.
func (s *EmailSender) password(set approval.EmailSettings) (string, error) {
	switch {
	case set.PasswordFile != "":
		b, err := os.ReadFile(set.PasswordFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return "", fmt.Errorf("reading the SMTP password file failed: %v", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case set.PasswordEnv != "":
		p := s.getenv(set.PasswordEnv)
		if p == "" {
			return "", fmt.Errorf("the SMTP password variable %s is empty or unset", set.PasswordEnv)
		}
		return p, nil
	}
	return "", nil
}

// control refuses to connect to an address approval.DeniedAddr denies.
func (s *EmailSender) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("unexpected address %q", address)
	}
	if why := approval.DeniedAddr(ap.Addr(), s.allowPrivate); why != "" {
		return fmt.Errorf("refusing to connect to %s: %s", ap.Addr(), why)
	}
	return nil
}
