package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"approvald/signedlink"
)

// mailSink is a real SMTP server on a loopback port, in the test process,
// that keeps every mail it is given.
type mailSink struct {
	host  string
	port  int
	mu    sync.Mutex
	mails []sunkMail
}

// sunkMail is one mail the sink took, parsed.
type sunkMail struct {
	To      []string
	Header  mail.Header
	Subject string // decoded
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
}

type sinkBackend struct{ s *mailSink }

func (b sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &sinkSession{s: b.s}, nil
}

type sinkSession struct {
	s  *mailSink
	to []string
}

func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parseMail(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: err.Error()}
	}
	m.To = ss.to
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, m)
	ss.s.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset()        { ss.to = nil }
func (ss *sinkSession) Logout() error { return nil }

// newMailSink starts a plain-text SMTP server on 127.0.0.1.
func newMailSink(t *testing.T) *mailSink {
	t.Helper()
	s := &mailSink{}
	srv := smtp.NewServer(sinkBackend{s})
	srv.Domain = "mx.example.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().(*net.TCPAddr)
	s.host, s.port = a.IP.String(), a.Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// channel is the body of POST /v1/notification-channels for an email
// channel that submits to the sink.
func (s *mailSink) channel(name string) map[string]any {
	return map[string]any{"name": name, "type": "email", "email": map[string]any{
		"host": s.host, "port": s.port, "tls": "none", "from": "Approvals <approvald@example.com>"}}
}

// to returns the mails sent to address so far.
func (s *mailSink) to(address string) []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sunkMail
	for _, m := range s.mails {
		for _, a := range m.To {
			if strings.EqualFold(a, address) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// await waits up to timeout until n mails to address whose subject contains
// subject arrived, and returns them; it fails the test if they do not.
func (s *mailSink) await(t *testing.T, address, subject string, n int, timeout time.Duration) []sunkMail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := s.matching(address, subject)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d mails to %s with %q in the subject arrived, want %d; all to it: %v",
				timeout, len(got), address, subject, n, subjects(s.to(address)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *mailSink) matching(address, subject string) []sunkMail {
	var out []sunkMail
	for _, m := range s.to(address) {
		if strings.Contains(m.Subject, subject) {
			out = append(out, m)
		}
	}
	return out
}

func subjects(ms []sunkMail) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return out
}

// parseMail reads a mail as a client would: its headers, the decoded
// subject and the text and HTML parts of a multipart/alternative body.
func parseMail(raw []byte) (sunkMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return sunkMail{}, err
	}
	m := sunkMail{Header: msg.Header}
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return m, err
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return m, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := decodeBody(msg.Body, msg.Header.Get("Content-Transfer-Encoding"))
		if err != nil {
			return m, err
		}
		m.Text = body
		return m, nil
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, err
		}
		body, err := decodeBody(p, p.Header.Get("Content-Transfer-Encoding"))
		if err != nil {
			return m, err
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pt {
		case "text/plain":
			m.Text = body
		case "text/html":
			m.HTML = body
		}
	}
	return m, nil
}

func decodeBody(r io.Reader, encoding string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: r})
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// crlfStripper drops line breaks, which base64.NewDecoder does not skip
// in every position.
type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}

// linkKeys returns a fresh APPROVALD_LINK_KEYS value with one key, k1, and
// the signer the server will use with it.
func linkKeys(t *testing.T) (string, *signedlink.Signer) {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	spec := "k1:" + base64.StdEncoding.EncodeToString(secret)
	keys, err := signedlink.ParseKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signedlink.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return spec, signer
}

// linkRE finds a signed link to the UI's page of a request.
var linkRE = regexp.MustCompile(`http://approvals\.example\.test/ui/requests/[^\s"<>]+`)

// messageID returns a mail's Message-ID, In-Reply-To or References
// without its angle brackets.
func messageID(m sunkMail, header string) string {
	return strings.Trim(strings.TrimSpace(m.Header.Get(header)), "<>")
}

// TestNotify_MailArrivesWithASignedLink runs approvald as a process with
// an email channel to a real SMTP server in the test: a request under a
// stored policy mails its reviewer (the API key's contact) a multipart
// message with a signed link to the UI, which verifies under the configured
// key for that request and that reviewer; the decision then mails the
// requester, threaded under the first mail.
func TestNotify_MailArrivesWithASignedLink(t *testing.T) {
	t.Parallel()
	sink := newMailSink(t)
	keys, signer := linkKeys(t)
	p := launch(t, map[string]string{
		"APPROVALD_DATABASE":            "sqlite:" + t.TempDir() + "/notify.db",
		"APPROVALD_ADMIN_KEY":           testAdminKey,
		"APPROVALD_NOTIFY_BATCH_WINDOW": "0",
		"APPROVALD_PUBLIC_URL":          "http://approvals.example.test",
		"APPROVALD_LINK_KEYS":           keys,
		"APPROVALD_SWEEP_INTERVAL":      "200ms",
	})
	admin := client{t: t, base: p.base, key: testAdminKey}
	admin.must(201, "POST", "/v1/notification-channels", sink.channel("mail"))
	keyOf := func(name, contact string, scopes ...string) client {
		m := admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes, "contact": contact})
		return admin.as(m["key"].(string))
	}
	reviewer := keyOf("reviewer", "rev@example.com", "approvals:review", "approvals:read")
	requester := keyOf("requester", "req@example.com", "approvals:create", "approvals:read")
	admin.must(201, "POST", "/v1/policies", map[string]any{"name": "ops-review", "policy": map[string]any{
		"rules": []any{map[string]any{"min_approvals": 1, "principals": []string{"svc:reviewer"}}}}})

	start := time.Now()
	id := requester.must(201, "POST", "/v1/approvals", map[string]any{"title": "Deploy billing 7.2", "policy_name": "ops-review"})["id"].(string)

	first := sink.await(t, "rev@example.com", "Deploy billing 7.2", 1, 30*time.Second)[0]
	t.Logf("the review-requested mail arrived %s after the request", time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(first.Subject, "[approvald] ") {
		t.Errorf("subject %q", first.Subject)
	}
	if from, err := first.Header.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "approvald@example.com" {
		t.Errorf("From %q: %v", first.Header.Get("From"), err)
	}
	if first.Text == "" || first.HTML == "" {
		t.Fatalf("a part is missing: text %q, html %q", first.Text, first.HTML)
	}
	if !strings.Contains(first.HTML, "Deploy billing 7.2") || !strings.Contains(first.Text, "Deploy billing 7.2") {
		t.Errorf("a part does not name the request:\ntext: %s\nhtml: %s", first.Text, first.HTML)
	}
	link := linkRE.FindString(first.Text)
	if link == "" {
		t.Fatalf("no link to the UI in the text part:\n%s", first.Text)
	}
	if !strings.Contains(first.HTML, strings.ReplaceAll(link, "&", "&amp;")) {
		t.Errorf("the HTML part does not carry the text part's link %s:\n%s", link, first.HTML)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/ui/requests/"+id {
		t.Errorf("the link goes to %s, want /ui/requests/%s", u.Path, id)
	}
	claims, err := signer.Verify(u.Query().Get("link"), time.Now())
	if err != nil {
		t.Fatalf("the link's token %q does not verify under the configured key: %v", u.Query().Get("link"), err)
	}
	if claims.RequestID != id || claims.Recipient != "svc:reviewer" || claims.Version != 1 || !claims.Expires.After(time.Now()) {
		t.Errorf("the link's claims: %+v", claims)
	}
	root := messageID(first, "Message-ID")
	if root != "approval."+id+"@example.com" {
		t.Errorf("the first mail's Message-ID is %q, want the thread root approval.%s@example.com", root, id)
	}
	if got := sink.to("req@example.com"); len(got) != 0 {
		t.Errorf("the requester was mailed before any decision: %v", subjects(got))
	}

	reviewer.must(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve", "comment": "ship it"})
	decision := sink.await(t, "req@example.com", "Deploy billing 7.2", 1, 30*time.Second)[0]
	if !strings.Contains(strings.ToLower(decision.Subject), "approved") {
		t.Errorf("the decision mail's subject %q does not say approved", decision.Subject)
	}
	if decision.Text == "" || decision.HTML == "" {
		t.Errorf("a part of the decision mail is missing: text %q, html %q", decision.Text, decision.HTML)
	}
	if got := messageID(decision, "In-Reply-To"); got != root {
		t.Errorf("the decision mail's In-Reply-To is %q, want %q", got, root)
	}
	if got := messageID(decision, "References"); got != root {
		t.Errorf("the decision mail's References is %q, want %q", got, root)
	}
	if got := messageID(decision, "Message-ID"); got == "" || got == root {
		t.Errorf("the decision mail's Message-ID %q is empty or the root's", got)
	}
	if l := linkRE.FindString(decision.Text); l == "" {
		t.Errorf("no link in the decision mail:\n%s", decision.Text)
	} else if u, err := url.Parse(l); err == nil {
		c, err := signer.Verify(u.Query().Get("link"), time.Now())
		if err != nil || c.RequestID != id || c.Recipient != "svc:requester" {
			t.Errorf("the decision mail's link: %+v, %v", c, err)
		}
	}

	// The queue shows both as sent, and nothing else went to either.
	list := admin.must(200, "GET", "/v1/notifications?request_id="+id, nil)
	if items := list["items"].([]any); len(items) < 2 {
		t.Errorf("the notification list of the request holds %d items: %v", len(items), list)
	}
	time.Sleep(time.Second)
	if n := len(sink.to("rev@example.com")); n != 1 {
		t.Errorf("the reviewer got %d mails, want 1: %v", n, subjects(sink.to("rev@example.com")))
	}
	if n := len(sink.to("req@example.com")); n != 1 {
		t.Errorf("the requester got %d mails, want 1: %v", n, subjects(sink.to("req@example.com")))
	}
}
