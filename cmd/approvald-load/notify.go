package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// notifyMembers is how many people the load's reviewer group has: each
// request asks every one of them (and the group's chat) to review.
const notifyMembers = 5

// NotifyStat is what the notify scenario's sinks received: mails (one per
// message, whatever its number of recipients) and chat messages, and when
// the last of them arrived, counted from the first create and from the
// last.
type NotifyStat struct {
	Requests int64 `json:"requests"`
	Mails    int   `json:"mails"`
	// MailItems counts the requests the mails named, per recipient
	// (a digest names several); MailRepeats those named to the same
	// recipient more than once.
	MailItems         int     `json:"mail_items"`
	MailRepeats       int     `json:"mail_repeats"`
	MailRecipients    int     `json:"mail_recipients"`
	ChatMessages      int     `json:"chat_messages"`
	LastAfterFirstS   float64 `json:"last_message_after_first_create_s"`
	LastAfterLastS    float64 `json:"last_message_after_last_create_s"`
	SettledWithinWait bool    `json:"settled"`
}

// sinks are a loopback SMTP server and a chat webhook that count what
// approvald sends them.
type sinks struct {
	mu            sync.Mutex
	mails, rcpts  int
	chat, saved   int
	items         map[string]int // recipient + request id → times named
	last          time.Time
	smtpAddr, url string
	smtp          *smtp.Server
	http          *http.Server
	// dump, when set, is a folder where every mail and chat message is
	// written as it arrived (mail-N.eml, chat-N.json).
	dump string
}

// save writes a message to the dump folder, numbered in arrival order.
func (k *sinks) save(kind, ext string, body []byte) {
	if k.dump == "" {
		return
	}
	k.mu.Lock()
	k.saved++
	n := k.saved
	k.mu.Unlock()
	_ = os.WriteFile(filepath.Join(k.dump, fmt.Sprintf("%s-%04d.%s", kind, n, ext)), body, 0o644)
}

func (k *sinks) got(mails, rcpts, chat int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.mails, k.rcpts, k.chat = k.mails+mails, k.rcpts+rcpts, k.chat+chat
	k.last = time.Now()
}

func (k *sinks) snapshot() (mails, rcpts, chat int, last time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.mails, k.rcpts, k.chat, k.last
}

// requestLink finds the requests a message names (quoted-printable may
// break a link across lines, so soft line breaks are removed first).
var requestLink = regexp.MustCompile(`/ui/requests/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)

// named counts, for each recipient, the requests a mail names (its text
// part and its HTML part each name them, so distinct ids per mail count).
func (k *sinks) named(rcpts []string, body []byte) {
	body = bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("=\r\n"), nil), []byte("=\n"), nil)
	ids := map[string]bool{}
	for _, m := range requestLink.FindAllSubmatch(body, -1) {
		ids[string(m[1])] = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.items == nil {
		k.items = map[string]int{}
	}
	for _, r := range rcpts {
		for id := range ids {
			k.items[r+" "+id]++
		}
	}
}

// NewSession implements smtp.Backend.
func (k *sinks) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{k: k}, nil }

type sinkSession struct {
	k     *sinks
	rcpts []string
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.k.save("mail", "eml", body)
	s.k.named(s.rcpts, body)
	s.k.got(1, len(s.rcpts), 0)
	s.rcpts = nil
	return nil
}
func (s *sinkSession) Reset()        { s.rcpts = nil }
func (s *sinkSession) Logout() error { return nil }

func startSinks(dump string) (*sinks, error) {
	k := &sinks{dump: dump}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return nil, err
	}
	k.smtpAddr, k.url = ln.Addr().String(), "http://"+hl.Addr().String()+"/chat"
	k.smtp = smtp.NewServer(k)
	k.smtp.Domain, k.smtp.AllowInsecureAuth = "localhost", true
	k.smtp.ReadTimeout, k.smtp.WriteTimeout = 30*time.Second, 30*time.Second
	k.http = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		k.save("chat", "json", body)
		k.got(0, 0, 1)
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = k.smtp.Serve(ln) }()
	go func() { _ = k.http.Serve(hl) }()
	return k, nil
}

// Close stops the sinks.
func (k *sinks) Close() { _ = k.smtp.Close(); _ = k.http.Close() }

// settle waits until nothing has arrived for quiet, or until max.
func (k *sinks) settle(quiet, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		_, _, _, last := k.snapshot()
		if !last.IsZero() && time.Since(last) >= quiet {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// setUpNotify configures approvald to notify a group of the load's
// requests — an email channel to the SMTP sink, a chat channel to the chat
// sink, the group's contact with both, a stored policy that the group
// reviews — and returns the body of the requests to create.
func setUpNotify(ctx context.Context, hc *http.Client, o *options, suffix string) (*sinks, map[string]any, error) {
	k, err := startSinks(o.dump)
	if err != nil {
		return nil, nil, err
	}
	host, port, _ := net.SplitHostPort(k.smtpAddr)
	var portNo int
	fmt.Sscan(port, &portNo)
	group, mail, chat, policy := "load-reviewers-"+suffix, "load-mail-"+suffix, "load-chat-"+suffix, "load-notify-"+suffix
	emails := make([]string, notifyMembers)
	for i := range emails {
		emails[i] = fmt.Sprintf("reviewer%d-%s@load.test", i+1, suffix)
	}
	steps := []struct {
		path string
		body map[string]any
	}{
		{"/v1/notification-channels", map[string]any{"name": mail, "type": "email", "email": map[string]any{"host": host, "port": portNo, "tls": "none", "from": "approvald@load.test"}}},
		{"/v1/notification-channels", map[string]any{"name": chat, "type": "slack", "url": k.url}},
		{"/v1/contacts", map[string]any{"group": group, "emails": emails, "channel": chat}},
		{"/v1/policies", map[string]any{"name": policy, "policy": map[string]any{"rules": []any{map[string]any{"name": "group", "min_approvals": 1, "groups": []string{group}}}}}},
	}
	for _, s := range steps {
		if code, b, err := call(ctx, hc, "POST", o.url+s.path, o.adminKey, s.body); err != nil || (code != http.StatusCreated && code != http.StatusOK) {
			k.Close()
			return nil, nil, fmt.Errorf("setting up notifications: POST %s: %d %s %v", s.path, code, b, err)
		}
	}
	return k, map[string]any{"title": "Load notification", "policy_name": policy, "payload": payload["payload"]}, nil
}

// report waits for the notifications to settle and describes them.
func (k *sinks) report(o options, res []tallies, start time.Time, elapsed time.Duration) *NotifyStat {
	settled := k.settle(3*time.Second, o.settle)
	mails, rcpts, chat, last := k.snapshot()
	st := &NotifyStat{Mails: mails, MailRecipients: rcpts, ChatMessages: chat, SettledWithinWait: settled}
	k.mu.Lock()
	for _, n := range k.items {
		st.MailItems += n
		st.MailRepeats += n - 1
	}
	k.mu.Unlock()
	for _, t := range res {
		if c := t.ops["create"]; c != nil {
			st.Requests += int64(len(c.lat))
		}
	}
	if !last.IsZero() {
		st.LastAfterFirstS = last.Sub(start).Seconds()
		st.LastAfterLastS = last.Sub(start.Add(elapsed)).Seconds()
	}
	return st
}
