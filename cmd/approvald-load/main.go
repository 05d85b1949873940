// Command approvald-load drives a running approvald (or, for comparison, any
// HTTP service on this machine) with concurrent clients and reports
// throughput, latency percentiles (p50, p90, p99, max) and failed calls by
// status, as a table or as JSON for scripts. Every run is bounded: by
// -duration, or by -count operations within -duration. It refuses targets
// that are not on this machine unless told otherwise.
//
// Scenarios (-scenario):
//
//	create    POST /v1/approvals
//	approve   create, then approve it as another principal (the default);
//	          with -receiver ok the requests name a service rule pointing
//	          at a loopback receiver this tool runs, which measures the
//	          delivery latency of each decision; with -watch longpoll each
//	          client long-polls its request before approving it, as
//	          approvalctl wait does, and with -watch sse one client follows
//	          /v1/events: the time from each decision's commit to the
//	          waiting client is measured
//	notify    create requests that a group of five people reviews, with the
//	          group's five addresses and its chat as its contact: email and
//	          Slack channels point at a loopback SMTP server and chat
//	          webhook this tool runs, which count what arrives until it is
//	          quiet for 3s (at most -settle); the report adds the mails,
//	          their recipients, the chat messages and when the last arrived
//	get       GET /v1/approvals/{id} of requests created beforehand
//	list      GET /v1/approvals?status=pending, the first page of 50
//	inbox     GET /v1/approvals?awaiting=me, the first page of 50
//	legacy-create  POST /request of the legacy (stash) API, naming a service
//	          rule by number
//	legacy-get     GET /request?id= of legacy requests created beforehand
//	status    GET /status, the legacy API's public status, without a key:
//	          what the HTTP layer costs with next to no handler behind it
//	gateway   POST the CR8TOR contract's example package body, each client
//	          with a run of its own, with x-api-key, to <url>/project/package
//	          (or to <url><-path>: point it at the fake upstream or a proxy
//	          to compare); -upstream-addr runs the fake Publish service
//	github    POST signed GitHub deployment_protection_rule deliveries
//	          (action requested) to /v1/github/webhook, each for a new run
//	          of a repository named per load, so that each opens a request:
//	          only a 202 that opened one counts (a duplicate is an error);
//	          -github-secret is the App's webhook secret and
//	          -github-api-url the API URL the server is configured with
//	          (the deployment_callback_url must lie under it)
//	receipt   GET /v1/approvals/{id}/receipt of requests created and
//	          approved beforehand (-count of them, each read once; 256
//	          read in turn without -count); with -verify every distinct
//	          envelope is checked after the timed run against the keys of
//	          /.well-known/approvald/keys, and the run fails if one does
//	          not verify
//	startup   start the -exec binary with the arguments after --, time it
//	          from exec to its /readyz answering 200, and read its memory
//	          (VmRSS) after -idle
//
// With -server-pid, the report adds the CPU time that process (the server)
// used during the timed run, in all and per call.
//
// Examples:
//
//	approvald-load -url http://127.0.0.1:8000 -key "$ADMIN" -clients 16 -duration 20s
//	approvald-load -scenario gateway -gateway-key "$K" -upstream-addr 127.0.0.1:18003 -count 10000
//	approvald-load -scenario github -github-secret "$SECRET" -github-api-url http://127.0.0.1:1 -count 3000 -server-pid "$PID"
//	approvald-load -scenario receipt -key "$ADMIN" -count 3000 -verify
//	approvald-load -scenario startup -exec ./approvald -url http://127.0.0.1:18200 -- --addr 127.0.0.1:18200
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
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "approvald-load:", err)
		os.Exit(1)
	}
}

// maxDuration bounds every run.
const maxDuration = 10 * time.Minute

type options struct {
	url          string
	adminKey     string
	gatewayKey   string
	clients      int
	duration     time.Duration
	count        int64
	rate         float64 // operations (cycles) per second over all clients, 0 for as fast as possible
	scenario     string
	receiver     string // none, ok or stall
	watch        string // none, longpoll or sse
	watcher      *watcher
	watchKey     string // the key that watches (the reviewer's, which reads)
	rule         string // service rule the requests name (set when receiver is not none)
	path         string // gateway: the path to POST to
	bodyBytes    int    // gateway: grow the example body to at least this size
	upstreamAddr string // gateway: run the fake Publish service here
	allowRemote  bool
	jsonOut      bool
	failOnError  bool
	// startup
	exec   string
	args   []string
	runs   int
	idle   time.Duration
	remove string
	// notify
	settle time.Duration
	dump   string
	// github
	githubSecret string
	githubAPIURL string
	// receipt
	verify bool
	// serverPID is the server's process, whose CPU time is reported.
	serverPID int
}

// target is the URL the scenario's requests go to, for the report.
func (o options) target() string {
	switch o.scenario {
	case "gateway":
		return o.url + o.path
	case "startup":
		return o.url + "/readyz"
	case "status":
		return o.url + "/status"
	case "github":
		return o.url + "/v1/github/webhook"
	}
	return o.url
}

var scenarios = []string{"create", "approve", "notify", "get", "list", "inbox", "legacy-create", "legacy-get", "status", "gateway", "github", "receipt", "startup"}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	var o options
	approve := true
	fs := flag.NewFlagSet("approvald-load", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8000", "base URL of the target")
	fs.StringVar(&o.scenario, "scenario", "approve", "create, approve, notify, get, list, inbox, legacy-create, legacy-get, status, gateway, github, receipt or startup (see the command's doc)")
	fs.StringVar(&o.adminKey, "key", getenv("APPROVALD_ADMIN_KEY"), "admin API key, used to create the load's own keys and service rule (default $APPROVALD_ADMIN_KEY); not needed by status, gateway, github and startup")
	fs.StringVar(&o.gatewayKey, "gateway-key", getenv("APPROVALSERVICEAPIKEY"), "gateway: the x-api-key to send (default $APPROVALSERVICEAPIKEY)")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to run (at most 10m); with -count and no -duration, 10m bounds the count's run")
	fs.Int64Var(&o.count, "count", 0, "stop after this many operations (create+approve cycles, reads, gateway calls, deliveries); with -scenario receipt also how many decided requests are made beforehand; 0: run for -duration")
	fs.Float64Var(&o.rate, "rate", 0, "operations per second over all clients (0: as fast as they go); the k-th starts no earlier than k/rate after the start")
	fs.StringVar(&o.watch, "watch", "none", "approve: none; longpoll: each client long-polls its request before approving it, as approvalctl wait does (decision → return latency, reported as op \"longpoll\"); sse: one subscriber of /v1/events (decision → event latency, op \"sse\")")
	fs.StringVar(&o.receiver, "receiver", "none", "none: requests name no service rule; ok: a loopback receiver that answers at once (delivery latency is measured); stall: one that never answers")
	fs.BoolVar(&approve, "approve", true, "approve: -approve=false is -scenario create (kept for older command lines)")
	fs.StringVar(&o.path, "path", "/project/package", "gateway: the path to POST to (the fake upstream's is /data-publish/package)")
	fs.IntVar(&o.bodyBytes, "body-bytes", 0, "gateway: grow the example body with more tables to at least this many bytes (0: the example as it is)")
	fs.StringVar(&o.upstreamAddr, "upstream-addr", "", "gateway: run a fake Publish service on this loopback address (e.g. 127.0.0.1:18003) that answers /data-publish/package with the contract's example")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a target that is not on this machine")
	fs.BoolVar(&o.jsonOut, "json", false, "print the result as one line of JSON")
	fs.BoolVar(&o.failOnError, "fail-on-error", false, "exit non-zero if any call failed or an operation never succeeded")
	fs.StringVar(&o.exec, "exec", "", "startup: the server binary to start; its arguments follow --")
	fs.IntVar(&o.runs, "runs", 5, "startup: how many starts")
	fs.DurationVar(&o.idle, "idle", 5*time.Second, "startup: how long the server idles after /readyz before its VmRSS is read (0: not read)")
	fs.DurationVar(&o.settle, "settle", 3*time.Minute, "notify: the longest to wait, after the last create, for the notifications (keep it above the server's batch window)")
	fs.StringVar(&o.dump, "dump", "", "notify: a folder to write every mail (.eml) and chat message (.json) received to")
	fs.StringVar(&o.githubSecret, "github-secret", getenv("APPROVALD_GITHUB_WEBHOOK_SECRET"), "github: the App's webhook secret the deliveries are signed with (default $APPROVALD_GITHUB_WEBHOOK_SECRET)")
	fs.StringVar(&o.githubAPIURL, "github-api-url", "https://api.github.com", "github: the GitHub API URL the server is configured with (its --github-api-url): the deliveries' deployment_callback_url lies under it")
	fs.BoolVar(&o.verify, "verify", false, "receipt: after the timed run, verify every distinct envelope against /.well-known/approvald/keys; the run fails if one does not verify")
	fs.IntVar(&o.serverPID, "server-pid", 0, "the server's process id (on this machine): report the CPU time it used during the timed run, in all and per call (from /proc/<pid>/stat)")
	fs.StringVar(&o.remove, "remove", "", "startup: a database file removed (with its -wal and -shm) before each start, for a fresh database")
	durationSet := false
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "duration" })
	o.args = fs.Args()
	o.githubAPIURL = strings.TrimRight(o.githubAPIURL, "/") // as the server trims its --github-api-url
	if o.scenario == "approve" && !approve {
		o.scenario = "create"
	}
	if o.count > 0 && !durationSet {
		o.duration = maxDuration
	}
	if err := o.validate(); err != nil {
		return err
	}
	if err := checkTarget(o.url, o.allowRemote); err != nil {
		return err
	}
	if o.scenario == "startup" {
		rep, err := measureStartup(ctx, o)
		if err != nil {
			return err
		}
		return o.output(out, rep)
	}

	hc := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.clients * 2, MaxConnsPerHost: o.clients * 2, IdleConnTimeout: 30 * time.Second},
	}
	defer hc.CloseIdleConnections()
	var (
		newClient func(i int) step
		recv      *receiver
		sink      *sinks
		rcpts     *receipts
		bodyBytes int
	)
	switch o.scenario {
	case "status":
		newClient = func(int) step { return statusClient(hc, o.target()) }
	case "github":
		g := newGitHubLoad(o)
		bodyBytes = g.bodySize()
		newClient = func(int) step { return g.client(hc) }
	case "gateway":
		body, err := packageBody(o.bodyBytes)
		if err != nil {
			return err
		}
		bodyBytes = len(body)
		if o.upstreamAddr != "" {
			up, err := startUpstream(o.upstreamAddr)
			if err != nil {
				return err
			}
			defer up.Close()
		}
		suffix := randomHex(4)
		newClient = func(i int) step { return gatewayClient(hc, o, body, suffix, i) }
	default:
		set := setUp
		if strings.HasPrefix(o.scenario, "legacy-") {
			set = setUpLegacy
		}
		s, err := set(ctx, hc, &o)
		if err != nil {
			return err
		}
		recv = s.recv
		if recv != nil {
			defer recv.Close()
		}
		newClient = s.client
		rcpts = s.receipts
		sink = s.sinks
		if sink != nil {
			defer sink.Close()
		}
	}

	if o.watcher != nil && o.watch == "sse" {
		streamCtx, stop := context.WithCancel(ctx)
		defer stop()
		subscribed := make(chan error, 1)
		go o.watcher.stream(streamCtx, o, o.watchKey, subscribed)
		if err := <-subscribed; err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	g := gate{budget: o.count}
	if o.rate > 0 {
		g.every = time.Duration(float64(time.Second) / o.rate)
	}
	res := make([]tallies, o.clients)
	var wg sync.WaitGroup
	cpu, err := serverCPU(o.serverPID)
	if err != nil {
		return err
	}
	g.start = time.Now()
	for i := range res {
		do := newClient(i)
		wg.Go(func() {
			for g.next(ctx) {
				do(ctx, &res[i])
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(g.start)
	cpuEnd, err := serverCPU(o.serverPID)
	if err != nil {
		return err
	}

	rep := summarize(o, res, elapsed)
	rep.BodyBytes = bodyBytes
	if o.serverPID != 0 {
		rep.setServerCPU(cpuEnd - cpu)
	}
	var verr error
	if rcpts != nil && o.verify {
		rep.Verified, verr = rcpts.check(ctx, hc)
	}
	if recv != nil && o.receiver == "ok" {
		recv.settle(2 * time.Second) // let deliveries of the last decisions land
		rep.Ops = append(rep.Ops, recv.stat("delivery"))
	}
	if sink != nil {
		rep.Notify = sink.report(o, res, g.start, elapsed)
	}
	if o.watcher != nil {
		if o.watch == "sse" {
			time.Sleep(time.Second) // let the events of the last decisions land
		}
		rep.Ops = append(rep.Ops, o.watcher.stat(o.watch))
	}
	if err := o.output(out, rep); err != nil {
		return err
	}
	if verr != nil {
		return verr
	}
	if o.failOnError {
		return rep.failure()
	}
	return nil
}

func (o options) validate() error {
	valid := false
	for _, s := range scenarios {
		valid = valid || s == o.scenario
	}
	needsKey := o.scenario != "status" && o.scenario != "gateway" && o.scenario != "github" && o.scenario != "startup"
	switch {
	case !valid:
		return fmt.Errorf("-scenario %q is not one of %v", o.scenario, scenarios)
	case needsKey && o.adminKey == "":
		return errors.New("-key (or APPROVALD_ADMIN_KEY) is required")
	case o.scenario == "gateway" && o.gatewayKey == "":
		return errors.New("-gateway-key (or APPROVALSERVICEAPIKEY) is required")
	case o.scenario == "github" && o.githubSecret == "":
		return errors.New("-github-secret (or APPROVALD_GITHUB_WEBHOOK_SECRET) is required with -scenario github")
	case o.scenario == "receipt" && o.count > maxReceiptCount:
		return fmt.Errorf("-count must be at most %d with -scenario receipt (its requests are made before the run)", maxReceiptCount)
	case o.verify && o.scenario != "receipt":
		return errors.New("-verify goes with -scenario receipt")
	case o.serverPID < 0 || (o.serverPID > 0 && o.scenario == "startup"):
		return errors.New("-server-pid must be a process id, and does not go with -scenario startup")
	case o.scenario == "startup" && o.exec == "":
		return errors.New("-exec is required with -scenario startup")
	case o.scenario == "startup" && (o.runs < 1 || o.runs > 100):
		return errors.New("-runs must be 1..100")
	case o.clients < 1 || o.clients > 1024:
		return errors.New("-clients must be 1..1024")
	case o.duration <= 0 || o.duration > maxDuration:
		return errors.New("-duration must be in (0, 10m]")
	case o.count < 0:
		return errors.New("-count must not be negative")
	case o.watch != "none" && o.watch != "longpoll" && o.watch != "sse":
		return errors.New("-watch must be none, longpoll or sse")
	case o.watch != "none" && o.scenario != "approve":
		return errors.New("-watch goes with -scenario approve")
	case o.receiver != "none" && o.receiver != "ok" && o.receiver != "stall":
		return errors.New("-receiver must be none, ok or stall")
	case o.receiver != "none" && o.scenario != "approve" && o.scenario != "create":
		return errors.New("-receiver goes with -scenario approve or create")
	case o.rate < 0:
		return errors.New("-rate must not be negative")
	case o.bodyBytes < 0 || o.bodyBytes > 64<<20:
		return errors.New("-body-bytes must be 0..64 MiB")
	case o.upstreamAddr != "" && o.scenario != "gateway":
		return errors.New("-upstream-addr goes with -scenario gateway")
	}
	if o.scenario == "github" {
		if u, err := url.Parse(o.githubAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-github-api-url %q is not an http(s) URL", o.githubAPIURL)
		}
	}
	if o.upstreamAddr != "" {
		host, _, err := net.SplitHostPort(o.upstreamAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-upstream-addr %q is not a loopback address with a port, such as 127.0.0.1:18003", o.upstreamAddr)
		}
	}
	return nil
}

func (o options) output(out io.Writer, rep Report) error {
	if o.jsonOut {
		return json.NewEncoder(out).Encode(rep)
	}
	rep.print(out)
	return nil
}

// failure returns an error when a call failed or an operation of the run
// never succeeded.
func (rep Report) failure() error {
	if rep.Errors > 0 {
		return fmt.Errorf("%d calls failed", rep.Errors)
	}
	if len(rep.Ops) == 0 {
		return errors.New("no call was made")
	}
	for _, op := range rep.Ops {
		if op.Count == 0 {
			return fmt.Errorf("no %s succeeded", op.Name)
		}
	}
	return nil
}

// step is one operation (one cycle) of one client; it records what it saw.
type step func(ctx context.Context, t *tallies)

// gate lets the clients' operations through: at most budget of them when
// budget > 0, the k-th no earlier than start + k×every when every > 0.
type gate struct {
	start  time.Time
	every  time.Duration
	budget int64
	taken  atomic.Int64
}

func (g *gate) next(ctx context.Context) bool {
	k := g.taken.Add(1) - 1
	if g.budget > 0 && k >= g.budget {
		return false
	}
	if g.every > 0 {
		if d := time.Until(g.start.Add(time.Duration(k) * g.every)); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
	}
	return ctx.Err() == nil
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

// send makes one call and returns the status and the answer's body. body
// may be nil; header is set on the request.
func send(ctx context.Context, hc *http.Client, method, url string, header http.Header, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, err
}

// call makes one call of the native API with a bearer key and a JSON body.
func call(ctx context.Context, hc *http.Client, method, url, key string, body any) (int, []byte, error) {
	h := http.Header{"Authorization": {"Bearer " + key}}
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
		h.Set("Content-Type", "application/json")
	}
	return send(ctx, hc, method, url, h, b)
}
