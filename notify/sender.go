package notify

import (
	"context"
	"fmt"
	"time"

	"approvald/approval"
)

// Sender sends the queued notifications, one message per target (a
// digest when several are due together), and records each outcome. Any
// number of senders may run: claims are leased.
type Sender struct {
	st      Store
	cfg     Config
	email   *EmailSender
	chat    *ChatSender
	metrics *senderMetrics
}

// NewSender returns a Sender over st and registers its metrics — the
// counters approvald_notifications_sent_total{channel_type,kind} and
// approvald_notification_failures_total{channel_type,reason}, and the
// queue's gauges (NewQueueCollector) — with cfg.Registry when it is set. It
// returns cfg's validation error or the error of registering.
func NewSender(st Store, cfg Config) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newSenderMetrics(cfg.Registry, NewQueueCollector(st, cfg.Now, cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("notify: registering the metrics: %w", err)
	}
	return &Sender{st: st, cfg: cfg, metrics: m,
		email: NewEmailSender(cfg.AllowPrivate, cfg.SendTimeout, cfg.Getenv),
		chat:  NewChatSender(cfg.AllowPrivate, cfg.SendTimeout)}, nil
}

// Run sends with workers goroutines until ctx ends, waking on Config.Wake
// (the store's changes) and every Poll (which is also how a batching window's end is
// noticed: its wait is at most one Poll longer).
func (s *Sender) Run(ctx context.Context, workers int) {
	run(ctx, workers, wakeOf(s.st, s.cfg), s.cfg.Poll, s.SendOnce, s.cfg.Logger, "sending notifications failed")
}

// SendOnce claims due notifications and sends them, one message per
// target, and returns how many notifications it claimed. A store error
// leaves them claimed: they are offered again when the lease ends.
func (s *Sender) SendOnce(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	ns, err := s.st.ClaimNotifications(ctx, now, now.Add(s.cfg.Lease), s.cfg.Targets, s.cfg.PerTarget)
	if err != nil || len(ns) == 0 {
		return 0, err
	}
	var order []string
	byTarget := map[string][]approval.Notification{}
	for _, n := range ns {
		t := n.Target()
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], n)
	}
	for _, t := range order {
		if err := s.send(ctx, byTarget[t]); err != nil {
			return len(ns), err
		}
	}
	return len(ns), nil
}

// send sends one target's notifications as one message and records the
// outcome; it returns only the store's errors.
func (s *Sender) send(ctx context.Context, ns []approval.Notification) error {
	name := ns[0].Channel
	ch, err := s.st.GetChannel(ctx, name)
	if approval.KindOf(err) == approval.KindNotFound {
		s.metrics.failures.WithLabelValues("unknown", reasonNoChannel).Add(float64(len(ns)))
		return s.finish(ctx, ns, approval.NotificationResult{GiveUp: true, LastError: fmt.Sprintf("channel %q no longer exists", name)})
	}
	if err != nil {
		return err
	}
	ct := string(ch.Type)
	var items []approval.Notification
	var data []Data
	for _, n := range ns {
		d, err := decodeData(n)
		if err != nil {
			s.cfg.Logger.Error("a notification cannot be sent", "notification", n.ID, "err", err)
			s.metrics.failures.WithLabelValues(ct, reasonBadData).Inc()
			if err := s.finish(ctx, []approval.Notification{n}, approval.NotificationResult{GiveUp: true, LastError: "its data does not decode"}); err != nil {
				return err
			}
			continue
		}
		items, data = append(items, n), append(data, d)
	}
	if len(items) == 0 {
		return nil
	}
	switch ch.Type {
	case approval.ChannelEmail:
		err = s.email.Send(ctx, ch, items[0].Address, data)
	default:
		err = s.chat.Send(ctx, ch, data)
	}
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the lease hands them to the next sender
	}
	if err == nil {
		for _, n := range items {
			s.metrics.sent.WithLabelValues(ct, string(n.Kind)).Inc()
		}
		return s.finish(ctx, items, approval.NotificationResult{Sent: true})
	}
	attempts := 0
	for _, n := range items {
		attempts = max(attempts, n.Attempts)
	}
	attempts++ // this one
	res := approval.NotificationResult{LastError: err.Error()}
	switch {
	case IsPermanent(err):
		res.GiveUp = true
		s.metrics.failures.WithLabelValues(ct, reasonRejected).Inc()
	case attempts >= s.cfg.MaxAttempts:
		res.GiveUp = true
		s.metrics.failures.WithLabelValues(ct, reasonMaxAttempts).Inc()
	default:
		res.NextAttempt = s.cfg.Now().Add(Backoff(attempts))
		s.metrics.failures.WithLabelValues(ct, reasonRetry).Inc()
	}
	s.cfg.Logger.Warn("sending a notification failed", "channel", name, "notifications", len(items),
		"attempts", attempts, "gave_up", res.GiveUp, "err", err)
	return s.finish(ctx, items, res)
}

// finish records res for ns.
func (s *Sender) finish(ctx context.Context, ns []approval.Notification, res approval.NotificationResult) error {
	for _, n := range ns {
		res.IDs = append(res.IDs, n.ID)
	}
	res.At = s.cfg.Now()
	return s.st.FinishNotifications(ctx, res)
}

// Backoff returns the wait after the attempts-th failed attempt: 30 s
// doubling, at most an hour.
func Backoff(attempts int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
