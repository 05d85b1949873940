package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
)

// webhook is a fake chat endpoint that records the bodies posted to it
// and answers with status.
type webhook struct {
	mu     sync.Mutex
	bodies [][]byte
	status int
	srv    *httptest.Server
}

func newWebhook(t *testing.T, status int) *webhook {
	t.Helper()
	w := &webhook{status: status}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.URL.Path != "/hooks/T000/SECRET" {
			http.Error(rw, "bad request", http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.bodies = append(w.bodies, b)
		st := w.status
		w.mu.Unlock()
		rw.WriteHeader(st)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) received() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.bodies...)
}

func (w *webhook) channel(typ approval.ChannelType) *approval.NotificationChannel {
	return &approval.NotificationChannel{Name: "chat", Type: typ, URL: w.srv.URL + "/hooks/T000/SECRET"}
}

// decode reads a posted body as generic JSON.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("the body is not JSON: %v\n%s", err, b)
	}
	return m
}

func TestSlack_BlockKitMessage(t *testing.T) {
	t.Parallel()
	w := newWebhook(t, http.StatusOK)
	d := sampleData("r-1", 1, approval.NotifyReviewRequested)
	d.URL = "https://approvals.example.com/ui/requests/r-1"
	if err := NewChatSender(true, 5*time.Second).Send(context.Background(), w.channel(approval.ChannelSlack), []Data{d}); err != nil {
		t.Fatal(err)
	}
	got := w.received()
	if len(got) != 1 {
		t.Fatalf("%d posts, want 1", len(got))
	}
	m := decode(t, got[0])
	if text := m["text"]; text != "[approvald] Review requested: Deploy &lt;billing&gt; &amp; friends" {
		t.Errorf("text (the fallback) = %q, want the subject, escaped", text)
	}
	blocks, _ := m["blocks"].([]any)
	var types []string
	for _, b := range blocks {
		types = append(types, b.(map[string]any)["type"].(string))
	}
	if strings.Join(types, ",") != "section,context,actions" {
		t.Fatalf("block types = %v, want section, context, actions", types)
	}
	section := blocks[0].(map[string]any)["text"].(map[string]any)
	if section["type"] != "mrkdwn" || section["text"] != "*Review requested*: Deploy &lt;billing&gt; &amp; friends" {
		t.Errorf("section text = %v, want mrkdwn with the title escaped", section)
	}
	ctxEl := blocks[1].(map[string]any)["elements"].([]any)[0].(map[string]any)
	if ctxEl["type"] != "mrkdwn" || !strings.Contains(ctxEl["text"].(string), "Requester: user:carol") {
		t.Errorf("context = %v", ctxEl)
	}
	button := blocks[2].(map[string]any)["elements"].([]any)[0].(map[string]any)
	if button["type"] != "button" || button["url"] != d.URL || button["text"].(map[string]any)["type"] != "plain_text" {
		t.Errorf("button = %v, want a button with plain_text linking to %s", button, d.URL)
	}
}

func TestSlack_DigestHasAButtonPerRequest(t *testing.T) {
	t.Parallel()
	var items []Data
	for i := range 25 {
		d := sampleData("r-"+string(rune('a'+i)), 1, approval.NotifyReviewRequested)
		items = append(items, d)
	}
	b, err := SlackPayload(items)
	if err != nil {
		t.Fatal(err)
	}
	blocks := decode(t, b)["blocks"].([]any)
	if len(blocks) > 50 {
		t.Fatalf("%d blocks: Slack takes at most 50", len(blocks))
	}
	buttons := 0
	for _, bl := range blocks {
		if acc, ok := bl.(map[string]any)["accessory"].(map[string]any); ok && acc["type"] == "button" && acc["url"] != "" {
			buttons++
		}
	}
	if buttons != maxDigestItems {
		t.Errorf("%d buttons, want %d", buttons, maxDigestItems)
	}
	last := blocks[len(blocks)-1].(map[string]any)
	if last["type"] != "context" || !strings.Contains(string(b), "and 5 more") {
		t.Errorf("the last block = %v, want the count of the rest", last)
	}
}

func TestTeams_AdaptiveCardMessage(t *testing.T) {
	t.Parallel()
	w := newWebhook(t, http.StatusAccepted) // Workflows answer 202
	d := sampleData("r-1", 2, approval.NotifyDecision)
	d.Status = "approved"
	if err := NewChatSender(true, 5*time.Second).Send(context.Background(), w.channel(approval.ChannelTeams), []Data{d}); err != nil {
		t.Fatal(err)
	}
	got := w.received()
	if len(got) != 1 {
		t.Fatalf("%d posts, want 1", len(got))
	}
	m := decode(t, got[0])
	if m["type"] != "message" {
		t.Errorf("type = %v, want message", m["type"])
	}
	atts := m["attachments"].([]any)
	if len(atts) != 1 {
		t.Fatalf("%d attachments, want 1", len(atts))
	}
	att := atts[0].(map[string]any)
	if att["contentType"] != "application/vnd.microsoft.card.adaptive" {
		t.Errorf("contentType = %v", att["contentType"])
	}
	card := att["content"].(map[string]any)
	if card["type"] != "AdaptiveCard" || card["version"] != "1.4" || card["$schema"] != "http://adaptivecards.io/schemas/adaptive-card.json" {
		t.Errorf("card = type %v version %v schema %v", card["type"], card["version"], card["$schema"])
	}
	body := card["body"].([]any)
	if len(body) != 2 || body[0].(map[string]any)["type"] != "TextBlock" || body[1].(map[string]any)["type"] != "FactSet" {
		t.Fatalf("body = %v, want a TextBlock and a FactSet", body)
	}
	if text := body[0].(map[string]any)["text"]; text != "Decided: approved: Deploy <billing> & friends" {
		t.Errorf("heading = %q", text)
	}
	facts := body[1].(map[string]any)["facts"].([]any)
	if f := facts[0].(map[string]any); f["title"] != "Request" || f["value"] != "r-1" {
		t.Errorf("first fact = %v", f)
	}
	actions := card["actions"].([]any)
	if a := actions[0].(map[string]any); len(actions) != 1 || a["type"] != "Action.OpenUrl" || a["url"] != d.URL {
		t.Errorf("actions = %v, want one Action.OpenUrl to %s", actions, d.URL)
	}
}

func TestChat_ServerErrorsAreRetriedClientErrorsGivenUp(t *testing.T) {
	t.Parallel()
	cs := NewChatSender(true, 5*time.Second)
	items := []Data{sampleData("r-1", 1, approval.NotifyReviewRequested)}
	for _, tc := range []struct {
		status    int
		permanent bool
	}{{500, false}, {503, false}, {429, false}, {400, true}, {404, true}, {410, true}} {
		w := newWebhook(t, tc.status)
		err := cs.Send(context.Background(), w.channel(approval.ChannelSlack), items)
		if err == nil || IsPermanent(err) != tc.permanent {
			t.Errorf("status %d: err = %v, want permanent %v", tc.status, err, tc.permanent)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), w.srv.URL) {
			t.Errorf("status %d: the error shows the webhook URL: %v", tc.status, err)
		}
		if !strings.Contains(err.Error(), http.StatusText(tc.status)) {
			t.Errorf("status %d: the error does not name the status: %v", tc.status, err)
		}
	}
}

func TestChat_RefusesPrivateAddressesUnlessAllowed(t *testing.T) {
	t.Parallel()
	w := newWebhook(t, http.StatusOK)
	err := NewChatSender(false, 5*time.Second).Send(context.Background(), w.channel(approval.ChannelSlack), []Data{sampleData("r-1", 1, approval.NotifyReviewRequested)})
	if err == nil || len(w.received()) != 0 {
		t.Fatalf("err = %v, %d posts: want a refusal to dial loopback", err, len(w.received()))
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error shows the webhook URL: %v", err)
	}
}
