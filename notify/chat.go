package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"approvald/approval"
	"approvald/delivery"
)

// ChatSender posts messages to Slack-compatible and Teams webhooks.
type ChatSender struct {
	client  *http.Client
	timeout time.Duration
}

// NewChatSender returns a sender whose connections go only to addresses
// approval.DeniedAddr allows, checked when dialling (delivery.NewHTTPClient:
// no proxy, no redirects), each post bounded by timeout.
func NewChatSender(allowPrivate bool, timeout time.Duration) *ChatSender {
	return &ChatSender{client: delivery.NewHTTPClient(allowPrivate), timeout: timeout}
}

// Send posts the message telling of items to the webhook of ch, rendered
// for its type. A non-2xx answer is an error with the status; 429 and 5xx
// may be retried, other answers are Permanent. No error shows the URL
// (whoever has it can post).
func (s *ChatSender) Send(ctx context.Context, ch *approval.NotificationChannel, items []Data) error {
	var body []byte
	var err error
	switch ch.Type {
	case approval.ChannelSlack:
		body, err = SlackPayload(items)
	case approval.ChannelTeams:
		body, err = TeamsPayload(items)
	default:
		return Permanent(fmt.Errorf("channel %q is not a chat channel", ch.Name))
	}
	if err != nil {
		return Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ch.URL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("channel %q: its webhook url is not valid", ch.Name))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "approvald-notify")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL
		}
		return fmt.Errorf("posting to channel %q failed: %v", ch.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("channel %q answered %s", ch.Name, resp.Status)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return Permanent(err)
}
