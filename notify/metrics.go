package notify

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"approvald/approval"
)

// The reasons of approvald_notification_failures_total.
const (
	reasonRetry       = "retry"           // a send failed; it will be tried again
	reasonRejected    = "rejected"        // the server refused it for good
	reasonMaxAttempts = "max_attempts"    // given up after the last attempt
	reasonNoChannel   = "channel_deleted" // its channel no longer exists
	reasonBadData     = "bad_data"        // its data does not decode
)

// senderMetrics are the Sender's counters.
type senderMetrics struct {
	sent     *prometheus.CounterVec
	failures *prometheus.CounterVec
}

// newSenderMetrics makes the Sender's counters and registers them, with a
// queue collector reading q, on reg when it is not nil; a second Sender in
// the process shares what the first registered.
func newSenderMetrics(reg prometheus.Registerer, q prometheus.Collector) (*senderMetrics, error) {
	m := &senderMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "approvald_notifications_sent_total",
			Help: "Notifications sent, by channel type and kind (a digest counts each notification it carries)."},
			[]string{"channel_type", "kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "approvald_notification_failures_total",
			Help: "Failed attempts to send a message, by channel type and reason (retry, rejected, max_attempts, channel_deleted, bad_data)."},
			[]string{"channel_type", "reason"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []**prometheus.CounterVec{&m.sent, &m.failures} {
		if err := reg.Register(*c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			*c = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	if err := reg.Register(q); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		return nil, err
	}
	return m, nil
}

// QueueSource is the part of a store the queue collector reads.
type QueueSource interface {
	NotificationStats(ctx context.Context) (approval.NotificationStats, error)
}

// queueCollector reads the notification queue when scraped.
type queueCollector struct {
	src                     QueueSource
	now                     func() time.Time
	log                     *slog.Logger
	pending, failed, oldest *prometheus.Desc
}

// NewQueueCollector returns a collector of the notification queue: the
// notifications pending (neither sent nor given up), those given up, and
// the age of the oldest pending one, read from src at each scrape (bounded
// by a 2 s timeout). A failed read is logged to log and reported as no
// sample.
func NewQueueCollector(src QueueSource, now func() time.Time, log *slog.Logger) prometheus.Collector {
	return &queueCollector{src: src, now: now, log: log,
		pending: prometheus.NewDesc("approvald_notifications_pending",
			"Notifications neither sent nor given up.", nil, nil),
		failed: prometheus.NewDesc("approvald_notifications_failed",
			"Notifications given up (kept until they are deleted by age).", nil, nil),
		oldest: prometheus.NewDesc("approvald_notifications_oldest_pending_age_seconds",
			"Age of the oldest pending notification; 0 when there is none.", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.failed
	ch <- c.oldest
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.src.NotificationStats(ctx)
	if err != nil {
		c.log.Error("reading the notification queue for /metrics failed", "err", err)
		return
	}
	age := 0.0
	if !st.OldestPending.IsZero() {
		age = max(0, c.now().Sub(st.OldestPending).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(st.Failed))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}
