package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Report is the outcome of a run.
type Report struct {
	Scenario       string   `json:"scenario"`
	Target         string   `json:"target"`
	Clients        int      `json:"clients"`
	Seconds        float64  `json:"seconds"`
	TargetRate     float64  `json:"target_rate,omitempty"`
	BodyBytes      int      `json:"body_bytes,omitempty"`
	Ops            []OpStat `json:"ops"`
	TotalPerSecond float64  `json:"transactions_per_second"`
	Errors         int      `json:"errors"`
	// IdleRSSMiB and IdleRSSMaxMiB are the median and the largest resident
	// memory of the server after idling (scenario startup).
	IdleRSSMiB    float64 `json:"idle_rss_mib,omitempty"`
	IdleRSSMaxMiB float64 `json:"idle_rss_max_mib,omitempty"`
	// Notify is what the notify scenario's sinks received.
	Notify *NotifyStat `json:"notify,omitempty"`
	// ServerCPUms is the CPU time (user and system) the process of
	// -server-pid used during the timed run; ServerCPUPerCallUs is that
	// time per call made (successful or not). Read from /proc/<pid>/stat,
	// in clock ticks of 10 ms.
	ServerCPUms        float64 `json:"server_cpu_ms,omitempty"`
	ServerCPUPerCallUs float64 `json:"server_cpu_us_per_call,omitempty"`
	// Verified is how many distinct receipts -verify checked (scenario
	// receipt).
	Verified int `json:"receipts_verified,omitempty"`
}

// OpStat is the throughput and latency of one operation. ErrorsByStatus
// counts failed calls by the HTTP status they got ("transport" when none:
// a refused or broken connection, a timeout).
type OpStat struct {
	Name           string         `json:"name"`
	Count          int            `json:"count"`
	Errors         int            `json:"errors"`
	ErrorsByStatus map[string]int `json:"errors_by_status,omitempty"`
	PerSecond      float64        `json:"per_second"`
	P50ms          float64        `json:"p50_ms"`
	P90ms          float64        `json:"p90_ms"`
	P99ms          float64        `json:"p99_ms"`
	Maxms          float64        `json:"max_ms"`
}

// tally is what one client saw of one operation.
type tally struct {
	lat  []time.Duration
	errs map[string]int
}

// tallies is what one client saw, by operation, in the order the
// operations first happened.
type tallies struct {
	order []string
	ops   map[string]*tally
}

func (t *tallies) op(name string) *tally {
	if t.ops == nil {
		t.ops = map[string]*tally{}
	}
	o, ok := t.ops[name]
	if !ok {
		o = &tally{errs: map[string]int{}}
		t.ops[name] = o
		t.order = append(t.order, name)
	}
	return o
}

// ok records a successful call of op that took d.
func (t *tallies) ok(op string, d time.Duration) { o := t.op(op); o.lat = append(o.lat, d) }

// fail records a failed call of op: status 0 is a transport error.
func (t *tallies) fail(op string, status int) {
	key := "transport"
	if status != 0 {
		key = strconv.Itoa(status)
	}
	t.failAs(op, key)
}

// failAs records a failed call of op under why (a status, or what was
// wrong with an answer whose status was right, such as "duplicate").
func (t *tallies) failAs(op, why string) { t.op(op).errs[why]++ }

// add merges u into t.
func (t *tallies) add(u tallies) {
	for _, name := range u.order {
		o := t.op(name)
		o.lat = append(o.lat, u.ops[name].lat...)
		for k, n := range u.ops[name].errs {
			o.errs[k] += n
		}
	}
}

func opStat(name string, lat []time.Duration, errs map[string]int, elapsed time.Duration) OpStat {
	st := OpStat{Name: name, Count: len(lat), PerSecond: float64(len(lat)) / elapsed.Seconds()}
	for _, n := range errs {
		st.Errors += n
	}
	if st.Errors > 0 {
		st.ErrorsByStatus = maps.Clone(errs)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return ms(lat[int(p*float64(len(lat)-1))]) }
		st.P50ms, st.P90ms, st.P99ms, st.Maxms = q(0.50), q(0.90), q(0.99), ms(lat[len(lat)-1])
	}
	return st
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func summarize(o options, res []tallies, elapsed time.Duration) Report {
	var all tallies
	for _, r := range res {
		all.add(r)
	}
	rep := Report{Scenario: o.scenario, Target: o.target(), Clients: o.clients, Seconds: elapsed.Seconds(), TargetRate: o.rate}
	for _, name := range all.order {
		st := opStat(name, all.ops[name].lat, all.ops[name].errs, elapsed)
		rep.TotalPerSecond += st.PerSecond
		rep.Errors += st.Errors
		rep.Ops = append(rep.Ops, st)
	}
	return rep
}

// print writes rep as a table for people.
func (rep Report) print(w io.Writer) {
	fmt.Fprintf(w, "%s → %s: %d clients, %.1fs", rep.Scenario, rep.Target, rep.Clients, rep.Seconds)
	if rep.TargetRate > 0 {
		fmt.Fprintf(w, ", target %.0f/s", rep.TargetRate)
	}
	if rep.BodyBytes > 0 {
		fmt.Fprintf(w, ", body %d bytes", rep.BodyBytes)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-9s %8s %9s %9s %9s %9s %9s %7s  %s\n", "op", "count", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "by status")
	for _, op := range rep.Ops {
		var by []string
		for _, k := range slices.Sorted(maps.Keys(op.ErrorsByStatus)) {
			by = append(by, fmt.Sprintf("%s×%d", k, op.ErrorsByStatus[k]))
		}
		fmt.Fprintf(w, "%-9s %8d %9.1f %9.2f %9.2f %9.2f %9.2f %7d  %s\n",
			op.Name, op.Count, op.PerSecond, op.P50ms, op.P90ms, op.P99ms, op.Maxms, op.Errors, strings.Join(by, " "))
	}
	if rep.IdleRSSMiB > 0 {
		fmt.Fprintf(w, "idle VmRSS: median %.1f MiB, max %.1f MiB\n", rep.IdleRSSMiB, rep.IdleRSSMaxMiB)
	}
	if rep.TotalPerSecond > 0 {
		fmt.Fprintf(w, "requests/s (all ops): %.1f\n", rep.TotalPerSecond)
	}
	if rep.ServerCPUms > 0 {
		fmt.Fprintf(w, "server CPU: %.0f ms, %.0f µs per call\n", rep.ServerCPUms, rep.ServerCPUPerCallUs)
	}
	if rep.Verified > 0 {
		fmt.Fprintf(w, "receipts verified against the server's keys: %d distinct envelopes\n", rep.Verified)
	}
	if n := rep.Notify; n != nil {
		fmt.Fprintf(w, "notifications for %d requests: %d mails to %d recipients naming %d requests (%d repeats), %d chat messages; the last %.2fs after the first create, %.2fs after the last (settled: %v)\n",
			n.Requests, n.Mails, n.MailRecipients, n.MailItems, n.MailRepeats, n.ChatMessages, n.LastAfterFirstS, n.LastAfterLastS, n.SettledWithinWait)
	}
}

// latencies collects the latencies and failures of one operation that
// goroutines other than the clients observe (a receiver, a watcher), since
// start.
type latencies struct {
	start time.Time
	mu    sync.Mutex
	lat   []time.Duration
	fails map[string]int // by status
}

func newLatencies() *latencies { return &latencies{start: time.Now(), fails: map[string]int{}} }

// add records d, or, when status is not 0, a failure with that status.
func (l *latencies) add(d time.Duration, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if status != 0 {
		l.fails[strconv.Itoa(status)]++
		return
	}
	l.lat = append(l.lat, d)
}

// count returns how many latencies were recorded.
func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lat)
}

// stat reports them as an operation named name.
func (l *latencies) stat(name string) OpStat {
	l.mu.Lock()
	defer l.mu.Unlock()
	return opStat(name, l.lat, l.fails, time.Since(l.start))
}
