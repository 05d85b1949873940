// Command approvald-load drives a running approvald with concurrent clients
// that create approval requests and approve them, and reports throughput and
// latency percentiles of each operation. It refuses non-loopback targets
// unless told otherwise, and stops by itself after -duration.
//
//	approvald-load -url http://127.0.0.1:8000 -key "$ADMIN" -clients 16 -duration 20s
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "approvald-load:", err)
		os.Exit(1)
	}
}

type options struct {
	url         string
	adminKey    string
	clients     int
	duration    time.Duration
	approve     bool
	allowRemote bool
	jsonOut     bool
	receiver    string  // none, ok or stall
	rate        float64 // decisions per second, 0 for as fast as possible
	rule        string  // service rule the requests name (set when receiver is not none)
	scenario    string  // create, inbox or list
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("approvald-load", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8000", "approvald base URL")
	fs.StringVar(&o.adminKey, "key", getenv("APPROVALD_ADMIN_KEY"), "admin API key, used to create the load's own keys (default $APPROVALD_ADMIN_KEY)")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to run (at most 10m)")
	fs.BoolVar(&o.approve, "approve", true, "approve each request after creating it")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a target that is not on this machine")
	fs.BoolVar(&o.jsonOut, "json", false, "print the result as JSON")
	fs.StringVar(&o.receiver, "receiver", "none", "none: requests name no service rule; ok: a loopback receiver that answers at once (delivery latency is measured); stall: one that never answers")
	fs.Float64Var(&o.rate, "rate", 0, "create+approve cycles (or reads) per second over all clients (0: as fast as they go)")
	fs.StringVar(&o.scenario, "scenario", "create", "create: create (and approve) requests; inbox: read the first page of GET /v1/approvals?awaiting=me as a reviewer; list: read the first page of GET /v1/approvals?status=pending")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.adminKey == "":
		return errors.New("-key (or APPROVALD_ADMIN_KEY) is required")
	case o.clients < 1 || o.clients > 1024:
		return errors.New("-clients must be 1..1024")
	case o.duration <= 0 || o.duration > 10*time.Minute:
		return errors.New("-duration must be in (0, 10m]")
	case o.receiver != "none" && o.receiver != "ok" && o.receiver != "stall":
		return errors.New("-receiver must be none, ok or stall")
	case o.rate < 0:
		return errors.New("-rate must not be negative")
	case o.scenario != "create" && o.scenario != "inbox" && o.scenario != "list":
		return errors.New("-scenario must be create, inbox or list")
	}
	if err := checkTarget(o.url, o.allowRemote); err != nil {
		return err
	}
	hc := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.clients * 2, MaxConnsPerHost: o.clients * 2},
	}
	suffix := randomHex(4)
	requester, err := createKey(ctx, hc, o, "load-requester-"+suffix, "approvals:create")
	if err != nil {
		return err
	}
	reviewer, err := createKey(ctx, hc, o, "load-reviewer-"+suffix, "approvals:review", "approvals:read")
	if err != nil {
		return err
	}

	var recv *receiver
	if o.receiver != "none" {
		if recv, err = startReceiver(o.receiver == "stall"); err != nil {
			return err
		}
		defer recv.Close()
		o.rule = "load-" + suffix
		body := map[string]any{"name": o.rule, "url": recv.URL, "timeout": "5s", "max_attempts": 3}
		if code, b, err := call(ctx, hc, "POST", o.url+"/v1/service-rules", o.adminKey, body); err != nil || code != http.StatusCreated {
			return fmt.Errorf("creating the service rule: %d %s %v", code, b, err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var tokens <-chan time.Time
	if o.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
		defer t.Stop()
		tokens = t.C
	}
	res := make([]clientResult, o.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range res {
		if o.scenario == "create" {
			wg.Go(func() { res[i] = drive(ctx, hc, o, requester, reviewer, tokens) })
		} else {
			wg.Go(func() { res[i] = read(ctx, hc, o, reviewer, tokens) })
		}
	}
	wg.Wait()
	elapsed := time.Since(start)

	report := summarize(res, elapsed, o.clients)
	if recv != nil && o.receiver == "ok" {
		time.Sleep(2 * time.Second) // let deliveries of the last decisions land
		report.Ops = append(report.Ops, recv.stat())
	}
	if o.jsonOut {
		return json.NewEncoder(out).Encode(report)
	}
	fmt.Fprintf(out, "clients %d, %.1fs\n", o.clients, elapsed.Seconds())
	fmt.Fprintf(out, "%-8s %8s %10s %10s %10s %8s\n", "op", "count", "ops/s", "p50 ms", "p99 ms", "errors")
	for _, op := range report.Ops {
		fmt.Fprintf(out, "%-8s %8d %10.1f %10.2f %10.2f %8d\n", op.Name, op.Count, op.PerSecond, op.P50ms, op.P99ms, op.Errors)
	}
	fmt.Fprintf(out, "transactions/s (all ops): %.1f\n", report.TotalPerSecond)
	return nil
}

// checkTarget refuses a URL whose host is not a loopback address, unless allowed.
func checkTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q is not an http(s) URL", raw)
	}
	if allowRemote {
		return nil
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("-url %q is not on this machine (%s); pass -allow-remote to load it anyway", raw, ip)
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func call(ctx context.Context, hc *http.Client, method, url, key string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, err
}

func createKey(ctx context.Context, hc *http.Client, o options, name string, scopes ...string) (string, error) {
	code, body, err := call(ctx, hc, "POST", o.url+"/v1/api-keys", o.adminKey, map[string]any{"name": name, "scopes": scopes})
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated {
		return "", fmt.Errorf("creating key %s: %d %s", name, code, body)
	}
	var k struct {
		Key string `json:"key"`
	}
	return k.Key, json.Unmarshal(body, &k)
}

type clientResult struct {
	create, approve, reads                  []time.Duration
	createErrors, approveErrors, readErrors int
	readOp                                  string
}

var payload = map[string]any{"title": "Pay invoice 42", "payload": map[string]any{"invoice": 42, "amount": "1200.00", "currency": "EUR", "lines": []int{1, 2, 3}}}

// drive is one client: create, then approve, until ctx ends.
func drive(ctx context.Context, hc *http.Client, o options, requester, reviewer string, tokens <-chan time.Time) clientResult {
	var r clientResult
	body := maps.Clone(payload)
	if o.rule != "" {
		body["service_rule"] = o.rule
	}
	for ctx.Err() == nil {
		if tokens != nil {
			select {
			case <-tokens:
			case <-ctx.Done():
				return r
			}
		}
		t := time.Now()
		code, reply, err := call(ctx, hc, "POST", o.url+"/v1/approvals", requester, body)
		if ctx.Err() != nil {
			break
		}
		if err != nil || code != http.StatusCreated {
			r.createErrors++
			continue
		}
		r.create = append(r.create, time.Since(t))
		if !o.approve {
			continue
		}
		var created struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(reply, &created)
		t = time.Now()
		code, _, err = call(ctx, hc, "POST", o.url+"/v1/approvals/"+created.ID+"/reviews", reviewer, map[string]any{"decision": "approve"})
		if ctx.Err() != nil {
			break
		}
		if err != nil || code != http.StatusOK {
			r.approveErrors++
			continue
		}
		r.approve = append(r.approve, time.Since(t))
	}
	return r
}

// read is one client of a read scenario: GET the first page of the inbox
// or of the pending list, until ctx ends.
func read(ctx context.Context, hc *http.Client, o options, reviewer string, tokens <-chan time.Time) clientResult {
	r := clientResult{readOp: o.scenario}
	target := o.url + "/v1/approvals?awaiting=me&limit=50"
	if o.scenario == "list" {
		target = o.url + "/v1/approvals?status=pending&limit=50"
	}
	for ctx.Err() == nil {
		if tokens != nil {
			select {
			case <-tokens:
			case <-ctx.Done():
				return r
			}
		}
		t := time.Now()
		code, _, err := call(ctx, hc, "GET", target, reviewer, nil)
		if ctx.Err() != nil {
			break
		}
		if err != nil || code != http.StatusOK {
			r.readErrors++
			continue
		}
		r.reads = append(r.reads, time.Since(t))
	}
	return r
}

// Report is the outcome of a run.
type Report struct {
	Clients        int      `json:"clients"`
	Seconds        float64  `json:"seconds"`
	Ops            []OpStat `json:"ops"`
	TotalPerSecond float64  `json:"transactions_per_second"`
}

// OpStat is the throughput and latency of one operation.
type OpStat struct {
	Name      string  `json:"name"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	PerSecond float64 `json:"per_second"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
}

func opStat(name string, lat []time.Duration, errs int, elapsed time.Duration) OpStat {
	st := OpStat{Name: name, Count: len(lat), Errors: errs, PerSecond: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
		st.P50ms, st.P99ms = q(0.50), q(0.99)
	}
	return st
}

func summarize(res []clientResult, elapsed time.Duration, clients int) Report {
	var create, approve, reads []time.Duration
	var cErr, aErr, rErr int
	readOp := ""
	for _, r := range res {
		create = append(create, r.create...)
		approve = append(approve, r.approve...)
		reads = append(reads, r.reads...)
		cErr += r.createErrors
		aErr += r.approveErrors
		rErr += r.readErrors
		readOp = r.readOp
	}
	rep := Report{Clients: clients, Seconds: elapsed.Seconds()}
	for _, op := range []struct {
		name string
		lat  []time.Duration
		errs int
	}{{"create", create, cErr}, {"approve", approve, aErr}, {readOp, reads, rErr}} {
		if op.name == "" || (op.name != readOp && readOp != "") {
			continue
		}
		st := opStat(op.name, op.lat, op.errs, elapsed)
		rep.TotalPerSecond += st.PerSecond
		rep.Ops = append(rep.Ops, st)
	}
	return rep
}
