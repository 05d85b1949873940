package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"approvald/auth"
	"approvald/delivery"
	"approvald/engine"
	"approvald/gateway"
	"approvald/ghapp"
	"approvald/httpapi"
	"approvald/legacy"
	"approvald/receipt"
	"approvald/store/sqlite"
)

// fakeServerEnv makes the test binary a stand-in server for the startup
// scenario: it answers /readyz on the address in the variable until SIGTERM.
const fakeServerEnv = "APPROVALD_LOAD_TEST_FAKE_SERVER"

func TestMain(m *testing.M) {
	if addr := os.Getenv(fakeServerEnv); addr != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/readyz" {
				http.NotFound(w, r)
			}
		})}
		go func() { <-ctx.Done(); _ = srv.Close() }()
		_ = srv.ListenAndServe()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const admin = "apd_load-test-admin-key-0123456789abcdefghij"

// server is approvald's native API and gateway on a SQLite file, wired as
// cmd/approvald wires them, with the delivery dispatcher running.
type server struct {
	URL          string
	UpstreamAddr string // where the gateway expects the Publish service
	GatewayKey   string
	// GitHubSecret is the webhook secret of the server's GitHub App, whose
	// API URL is GitHubAPIURL (nothing answers there: its requests stay
	// pending).
	GitHubSecret, GitHubAPIURL string
	// Engine is the server's, for tests to look at what a load made.
	Engine *engine.Engine
}

// githubKey is the GitHub App's private key of the test servers, made once.
var githubKey = sync.OnceValues(func() ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
})

func startServer(t *testing.T) server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "load.db"))
	if err != nil {
		t.Fatal(err)
	}
	keys := auth.NewKeys(st, time.Now)
	if err := keys.Bootstrap(ctx, admin, io.Discard); err != nil {
		t.Fatal(err)
	}
	eng := engine.New(st, engine.WithPrivateTargets(true))
	waker := delivery.NewWaker()
	dispatcher := delivery.NewDispatcher(eng, delivery.Config{Workers: 8, PerRule: 8, Wake: waker.Listen(), Client: delivery.NewHTTPClient(true)})
	done := make(chan struct{}, 2)
	go func() { waker.Run(ctx, st.Changes()); done <- struct{}{} }()
	go func() { dispatcher.Run(ctx); done <- struct{}{} }()

	upstreamAddr := freeAddr(t)
	host, port, _ := net.SplitHostPort(upstreamAddr)
	gw := gateway.Config{APIKey: "gateway-key-0123456789", PublishHost: host, PublishPort: port, Timeout: time.Minute}
	g, err := gateway.New(gw, gateway.Deps{Recorder: &gateway.StoreRecorder{Store: st}})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := receipt.GenerateSigner()
	if err != nil {
		t.Fatal(err)
	}
	receiptKeys, err := receipt.NewKeySet(signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	ghKey, err := githubKey()
	if err != nil {
		t.Fatal(err)
	}
	gh := ghapp.Config{AppID: 1, PrivateKey: ghKey, WebhookSecret: []byte("webhook-secret-" + t.Name()), APIURL: "http://127.0.0.1:1", ServiceRule: "github"}
	app, err := ghapp.New(gh, eng)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.EnsureRule(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", httpapi.New(httpapi.Deps{Engine: eng, Keys: keys, Limits: httpapi.Limits{Rate: -1},
		Receipts: &receipt.Issuer{Signer: signer, Keys: receiptKeys}, GitHubWebhook: app.ServeWebhook}))
	gateway.Mount(mux, g)
	legacy.Mount(mux, legacy.New(legacy.Deps{Engine: eng, Keys: keys}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		<-done
		st.Close()
	})
	return server{URL: srv.URL, UpstreamAddr: upstreamAddr, GatewayKey: string(gw.APIKey),
		GitHubSecret: string(gh.WebhookSecret), GitHubAPIURL: gh.APIURL, Engine: eng}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// load runs the tool with args (and -json) and returns its report.
func load(t *testing.T, args ...string) Report {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append(args, "-json"), func(string) string { return "" }, &out); err != nil {
		t.Fatalf("approvald-load %s: %v", strings.Join(args, " "), err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkOps fails unless rep has exactly the operations names, each with
// successes, no error and sane percentiles.
func checkOps(t *testing.T, rep Report, names ...string) {
	t.Helper()
	if len(rep.Ops) != len(names) || rep.Errors != 0 {
		t.Fatalf("report %+v, want the operations %v and no error", rep, names)
	}
	for i, op := range rep.Ops {
		if op.Name != names[i] || op.Count == 0 || op.Errors != 0 {
			t.Errorf("operation %d: %+v, want %s with successes and no error", i, op, names[i])
		}
		if op.P50ms <= 0 || op.P90ms < op.P50ms || op.P99ms < op.P90ms || op.Maxms < op.P99ms {
			t.Errorf("percentiles of %s out of order: %+v", op.Name, op)
		}
	}
}

func TestCheckTarget_RefusesAddressesOffThisMachine(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"} {
		if err := checkTarget(u, false); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1:8000", "http://192.168.1.1", "ftp://127.0.0.1", "127.0.0.1:8000"} {
		if err := checkTarget(u, false); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestRun_RefusesUnboundedOrRemoteOptions(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-key", admin, "-duration", "11m"},
		{"-key", admin, "-duration", "0s"},
		{"-key", admin, "-count", "-1"},
		{"-key", admin, "-scenario", "nope"},
		{"-scenario", "approve"}, // no admin key
		{"-scenario", "gateway"}, // no gateway key
		{"-scenario", "gateway", "-gateway-key", "k", "-upstream-addr", "10.0.0.1:18003"},
		{"-key", admin, "-scenario", "list", "-receiver", "ok"},
		{"-key", admin, "-url", "http://10.0.0.1:8000"},
		{"-scenario", "github"}, // no webhook secret
		{"-scenario", "github", "-github-secret", "s", "-github-api-url", "api.github.com"},
		{"-key", admin, "-scenario", "get", "-verify"},
		{"-key", admin, "-scenario", "receipt", "-count", "100001"},
		{"-key", admin, "-server-pid", "-1"},
	} {
		if err := run(context.Background(), args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestRun_NativeScenariosAgainstARealServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	base := []string{"-url", srv.URL, "-key", admin, "-clients", "2"}

	rep := load(t, append(base, "-scenario", "create", "-count", "20")...)
	checkOps(t, rep, "create")
	if rep.Ops[0].Count != 20 {
		t.Errorf("-count 20 made %d creates", rep.Ops[0].Count)
	}
	checkOps(t, load(t, append(base, "-count", "10")...), "create", "approve") // approve is the default
	checkOps(t, load(t, append(base, "-scenario", "approve", "-receiver", "ok", "-count", "20")...), "create", "approve", "delivery")
	for _, scenario := range []string{"get", "list", "inbox", "legacy-create", "legacy-get"} {
		// A count, not a duration: on a loaded machine a short run may
		// finish no operation at all.
		checkOps(t, load(t, append(base, "-scenario", scenario, "-count", "10")...), scenario)
	}
	// status needs no key.
	checkOps(t, load(t, "-url", srv.URL, "-clients", "2", "-scenario", "status", "-count", "20"), "status")
}

func TestRun_RatePacesTheOperations(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	start := time.Now()
	rep := load(t, "-url", srv.URL, "-key", admin, "-clients", "4", "-scenario", "get", "-rate", "100", "-count", "30")
	// The 30th read starts no earlier than 290 ms after the first.
	if took := time.Since(start); rep.Ops[0].Count != 30 || took < 290*time.Millisecond {
		t.Errorf("30 reads at 100/s: %d reads in %s", rep.Ops[0].Count, took)
	}
}

func TestRun_GatewayScenario(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	gw := []string{"-scenario", "gateway", "-gateway-key", srv.GatewayKey, "-upstream-addr", srv.UpstreamAddr, "-clients", "4", "-count", "40"}

	rep := load(t, append(gw, "-url", srv.URL)...)
	checkOps(t, rep, "package")
	if rep.Ops[0].Count != 40 || rep.BodyBytes != len(examplePackageRequest) || rep.Target != srv.URL+"/project/package" {
		t.Errorf("through the gateway: %+v", rep)
	}
	// The same calls straight to the fake upstream, and with a large body.
	rep = load(t, append(gw, "-url", "http://"+srv.UpstreamAddr, "-path", "/data-publish/package")...)
	checkOps(t, rep, "package")
	rep = load(t, append(gw, "-url", srv.URL, "-body-bytes", "300000")...)
	checkOps(t, rep, "package")
	if rep.BodyBytes < 300000 {
		t.Errorf("body of %d bytes, want at least 300000", rep.BodyBytes)
	}
}

func TestRun_FailOnErrorCountsFailuresByStatus(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	var out bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "gateway", "-gateway-key", "wrong-key", "-upstream-addr", srv.UpstreamAddr,
		"-clients", "2", "-count", "10", "-json", "-fail-on-error"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out); err == nil {
		t.Fatal("a run of failed calls succeeded")
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 10 || len(rep.Ops) != 1 || rep.Ops[0].ErrorsByStatus["403"] != 10 {
		t.Fatalf("report %+v, want 10 failures, all 403", rep)
	}
}

func TestRun_StartupMeasuresReadinessAndMemory(t *testing.T) {
	addr := freeAddr(t)
	t.Setenv(fakeServerEnv, addr)
	rep := load(t, "-scenario", "startup", "-exec", os.Args[0], "-url", "http://"+addr, "-runs", "2", "-idle", "10ms")
	if len(rep.Ops) != 1 || rep.Ops[0].Name != "ready" || rep.Ops[0].Count != 2 || rep.Ops[0].P50ms <= 0 {
		t.Fatalf("report %+v, want two starts timed", rep)
	}
	if rep.IdleRSSMiB <= 0 || rep.IdleRSSMaxMiB < rep.IdleRSSMiB {
		t.Errorf("idle memory %v MiB (max %v)", rep.IdleRSSMiB, rep.IdleRSSMaxMiB)
	}
}

func TestPackageBody_GrowsTheExampleWithTables(t *testing.T) {
	t.Parallel()
	small, err := packageBody(0)
	if err != nil || !bytes.Equal(small, examplePackageRequest) {
		t.Fatalf("packageBody(0) is not the example: %v", err)
	}
	big, err := packageBody(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		ProjectName      string `json:"project_name"`
		ProjectStartTime string `json:"project_start_time"`
		Dataset          struct {
			Tables []json.RawMessage `json:"tables"`
		} `json:"dataset"`
	}
	if err := json.Unmarshal(big, &body); err != nil {
		t.Fatal(err)
	}
	if len(big) < 1<<20 || len(big) > 1<<20+4096 || body.ProjectName != "Pr004" || body.ProjectStartTime != "20250205_010101" || len(body.Dataset.Tables) < 1000 {
		t.Errorf("grown body: %d bytes, run %s %s, %d tables", len(big), body.ProjectName, body.ProjectStartTime, len(body.Dataset.Tables))
	}
}
