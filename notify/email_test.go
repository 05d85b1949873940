package notify

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"approvald/approval"
)

// parsed is a received mail taken apart.
type parsed struct {
	Header     mail.Header
	Text, HTML string
}

func parseMail(t *testing.T, raw []byte) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the mail does not parse: %v\n%s", err, raw)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative", m.Header.Get("Content-Type"))
	}
	p := parsed{Header: m.Header}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		default:
			t.Errorf("unexpected part %q", ct)
		}
	}
	if p.Text == "" || p.HTML == "" {
		t.Fatalf("want a text and an HTML part, got text %q html %q", p.Text, p.HTML)
	}
	return p
}

func sampleData(id string, v int64, k approval.NotifyKind) Data {
	return Data{RequestID: id, Version: v, Kind: k, Title: "Deploy <billing> & friends", Requester: "user:carol",
		Status: "pending", PendingReason: "1 more approval from group ops", ServiceRule: "deploy",
		Recipient: "user:alice", URL: "https://approvals.example.com/ui/requests/" + id + "?link=l1.k.abc.def",
		At: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
}

func newTestEmailSender(s *smtpServer) *EmailSender {
	es := NewEmailSender(true, 10*time.Second, func(string) string { return "" })
	es.roots = s.roots
	return es
}

func TestEmail_OneRequestsMailsThreadTogether(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t, false, false)
	es := newTestEmailSender(srv)
	ch := srv.channel(approval.TLSNone)
	first := sampleData("r-1", 1, approval.NotifyReviewRequested)
	later := sampleData("r-1", 3, approval.NotifyReminder)
	for _, d := range []Data{first, later} {
		if err := es.Send(context.Background(), ch, "alice@example.com", []Data{d}); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.received()
	if len(got) != 2 {
		t.Fatalf("received %d mails, want 2", len(got))
	}
	root := "<approval.r-1@example.com>"
	m1, m2 := parseMail(t, got[0].Data), parseMail(t, got[1].Data)
	if got[0].From != "approvald@example.com" || len(got[0].To) != 1 || got[0].To[0] != "alice@example.com" {
		t.Errorf("envelope = %q → %q", got[0].From, got[0].To)
	}
	if from, _ := m1.Header.AddressList("From"); len(from) != 1 || from[0].Address != "approvald@example.com" || from[0].Name != "Approvals" {
		t.Errorf("From = %q", m1.Header.Get("From"))
	}
	if to, _ := m1.Header.AddressList("To"); len(to) != 1 || to[0].Address != "alice@example.com" {
		t.Errorf("To = %q", m1.Header.Get("To"))
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m1.Header.Get("Subject"))
	if subj != "[approvald] Review requested: Deploy <billing> & friends" {
		t.Errorf("Subject = %q", subj)
	}
	if m1.Header.Get("Message-ID") != root || m1.Header.Get("In-Reply-To") != "" {
		t.Errorf("the first mail: Message-ID %q In-Reply-To %q, want the thread root %s and no reply", m1.Header.Get("Message-ID"), m1.Header.Get("In-Reply-To"), root)
	}
	if id := m2.Header.Get("Message-ID"); id == root || !strings.HasPrefix(id, "<approval.r-1.v3.") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("the second mail's Message-ID = %q, want its own under the From domain", id)
	}
	if m2.Header.Get("In-Reply-To") != root || m2.Header.Get("References") != root {
		t.Errorf("the second mail: In-Reply-To %q References %q, want %s", m2.Header.Get("In-Reply-To"), m2.Header.Get("References"), root)
	}
	if _, err := m1.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	for _, want := range []string{"Review requested: Deploy <billing> & friends", "Requester: user:carol", "Pending: 1 more approval from group ops", "Open the request: " + first.URL} {
		if !strings.Contains(m1.Text, want) {
			t.Errorf("the text part lacks %q:\n%s", want, m1.Text)
		}
	}
	for _, want := range []string{"Deploy &lt;billing&gt; &amp; friends", `href="https://approvals.example.com/ui/requests/r-1?link=l1.k.abc.def"`} {
		if !strings.Contains(m1.HTML, want) {
			t.Errorf("the HTML part lacks %q:\n%s", want, m1.HTML)
		}
	}
	if strings.Contains(m1.HTML, "<billing>") {
		t.Error("the HTML part does not escape the title")
	}
}

func TestEmail_StartTLSWithPasswordFromFile(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t, true, false)
	srv.user, srv.password = "approvald", "s3cret-pass"
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("s3cret-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	es := newTestEmailSender(srv)
	ch := srv.channel(approval.TLSStartTLS)
	ch.Email.Username, ch.Email.PasswordFile = "approvald", file
	if err := es.Send(context.Background(), ch, "bob@example.com", []Data{sampleData("r-2", 1, approval.NotifyReviewRequested)}); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 1 || !got[0].TLS || got[0].User != "approvald" {
		t.Fatalf("received %+v, want one mail over TLS from the authenticated user", got)
	}

	// A wrong password fails, and the error does not show it.
	if err := os.WriteFile(file, []byte("wrong-pass-123"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := es.Send(context.Background(), ch, "bob@example.com", []Data{sampleData("r-2", 2, approval.NotifyReminder)})
	if err == nil || strings.Contains(err.Error(), "wrong-pass-123") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v, want an authentication failure that does not show the password", err)
	}
}

func TestEmail_StartTLSIsMandatory(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t, false, false) // offers no STARTTLS
	err := newTestEmailSender(srv).Send(context.Background(), srv.channel(approval.TLSStartTLS), "bob@example.com", []Data{sampleData("r-3", 1, approval.NotifyReviewRequested)})
	if err == nil || len(srv.received()) != 0 {
		t.Fatalf("err = %v with %d mails, want a refusal to send without STARTTLS", err, len(srv.received()))
	}
}

func TestEmail_ImplicitTLSWithPasswordFromEnv(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t, false, true)
	srv.user, srv.password = "approvald", "env-pass-456"
	es := newTestEmailSender(srv)
	es.getenv = func(k string) string {
		if k == "SMTP_PASSWORD" {
			return "env-pass-456"
		}
		return ""
	}
	ch := srv.channel(approval.TLSImplicit)
	ch.Email.Username, ch.Email.PasswordEnv = "approvald", "SMTP_PASSWORD"
	if err := es.Send(context.Background(), ch, "bob@example.com", []Data{sampleData("r-4", 1, approval.NotifyDecision)}); err != nil {
		t.Fatal(err)
	}
	if got := srv.received(); len(got) != 1 || !got[0].TLS || got[0].User != "approvald" {
		t.Fatalf("received %+v, want one mail over TLS from the authenticated user", got)
	}
}

func TestEmail_RejectedRecipientIsPermanent(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t, false, false)
	srv.reject = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	err := newTestEmailSender(srv).Send(context.Background(), srv.channel(approval.TLSNone), "nobody@example.com", []Data{sampleData("r-5", 1, approval.NotifyDecision)})
	if err == nil || !IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	srv.reject = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	err = newTestEmailSender(srv).Send(context.Background(), srv.channel(approval.TLSNone), "nobody@example.com", []Data{sampleData("r-5", 2, approval.NotifyDecision)})
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want a temporary error", err)
	}
}

func TestEmail_RefusesMetadataAddress(t *testing.T) {
	t.Parallel()
	es := NewEmailSender(true, 2*time.Second, nil)
	ch := &approval.NotificationChannel{Name: "mail", Type: approval.ChannelEmail, Email: &approval.EmailSettings{
		Host: "169.254.169.254", Port: 25, TLS: approval.TLSNone, From: "approvald@example.com"}}
	err := es.Send(context.Background(), ch, "bob@example.com", []Data{sampleData("r-6", 1, approval.NotifyDecision)})
	if err == nil || !strings.Contains(err.Error(), "refusing to connect") {
		t.Fatalf("err = %v, want a refusal to dial the metadata address", err)
	}
}

func TestEmail_DigestListsEveryNotification(t *testing.T) {
	t.Parallel()
	srv := newSMTPServer(t, false, false)
	items := []Data{sampleData("r-7", 1, approval.NotifyReviewRequested), sampleData("r-8", 1, approval.NotifyReviewRequested), sampleData("r-9", 2, approval.NotifyDecision)}
	items[1].Title, items[2].Title = "Second", "Third"
	items[1].URL, items[2].URL = "https://approvals.example.com/ui/requests/r-8?link=x", "https://approvals.example.com/ui/requests/r-9?link=y"
	if err := newTestEmailSender(srv).Send(context.Background(), srv.channel(approval.TLSNone), "alice@example.com", items); err != nil {
		t.Fatal(err)
	}
	got := srv.received()
	if len(got) != 1 {
		t.Fatalf("received %d mails, want one digest", len(got))
	}
	m := parseMail(t, got[0].Data)
	if s := m.Header.Get("Subject"); s != "[approvald] 3 notifications about approval requests" {
		t.Errorf("Subject = %q", s)
	}
	if m.Header.Get("In-Reply-To") != "" {
		t.Errorf("a digest of several requests replies to %q", m.Header.Get("In-Reply-To"))
	}
	for _, d := range items {
		if !strings.Contains(m.Text, d.URL) || !strings.Contains(m.HTML, d.URL) {
			t.Errorf("the digest lacks the link %s", d.URL)
		}
	}
	if !strings.Contains(m.Text, "Second") || !strings.Contains(m.HTML, "Third") {
		t.Error("the digest lacks a title")
	}
}
