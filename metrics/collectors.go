package metrics

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"approvald/approval"
)

// OutboxSource is the part of a store the outbox collector reads.
type OutboxSource interface {
	OutboxStats(ctx context.Context) (approval.OutboxStats, error)
}

// outboxCollector reads the outbox when scraped.
type outboxCollector struct {
	src    OutboxSource
	now    func() time.Time
	log    *slog.Logger
	depth  *prometheus.Desc
	oldest *prometheus.Desc
}

// NewOutboxCollector returns a collector of the outbox's depth (deliveries
// not finished) and the age of its oldest entry, read from src at each
// scrape (one indexed query, bounded by a 2 s timeout). A failed read is
// logged to log and reported as no sample.
func NewOutboxCollector(src OutboxSource, now func() time.Time, log *slog.Logger) prometheus.Collector {
	return &outboxCollector{
		src: src, now: now, log: log,
		depth: prometheus.NewDesc("approvald_outbox_undelivered",
			"Decisions whose delivery to a service rule is not finished.", nil, nil),
		oldest: prometheus.NewDesc("approvald_outbox_oldest_undelivered_age_seconds",
			"Age of the oldest decision whose delivery is not finished; 0 when there is none.", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.oldest }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.src.OutboxStats(ctx)
	if err != nil {
		c.log.Error("reading the outbox for /metrics failed", "err", err)
		return
	}
	age := 0.0
	if !st.OldestUndelivered.IsZero() {
		age = max(0, c.now().Sub(st.OldestUndelivered).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(st.Undelivered))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
}

// PoolSource is a store with connection pools, named (SQLite: writer and
// reader; PostgreSQL: pool).
type PoolSource interface {
	PoolStats() map[string]sql.DBStats
}

// poolCollector reads the pools' statistics when scraped.
type poolCollector struct {
	src                               PoolSource
	max, open, inUse, idle, waits, wt *prometheus.Desc
}

// NewPoolCollector returns a collector of the database pools of src.
func NewPoolCollector(src PoolSource) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("approvald_db_pool_"+name, help, []string{"pool"}, nil)
	}
	return &poolCollector{src: src,
		max:   d("max_connections", "Connections the pool may open."),
		open:  d("open_connections", "Connections open, in use or idle."),
		inUse: d("in_use_connections", "Connections in use."),
		idle:  d("idle_connections", "Connections idle."),
		waits: d("waits_total", "Times a caller waited for a connection."),
		wt:    d("wait_seconds_total", "Time callers waited for a connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.max, c.open, c.inUse, c.idle, c.waits, c.wt} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for name, st := range c.src.PoolStats() {
		ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(st.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(st.OpenConnections), name)
		ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(st.InUse), name)
		ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(st.Idle), name)
		ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(st.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(c.wt, prometheus.CounterValue, st.WaitDuration.Seconds(), name)
	}
}
