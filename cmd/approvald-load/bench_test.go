package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"approvald/gateway"
	"approvald/store/sqlite"
)

// asyncRecorder hands each call to the inner recorder on a goroutine of its
// own and returns at once, so that the handler (and the client's keep-alive
// connection) does not wait for the call log's commit. Close waits for the
// records in flight. It is the change BenchmarkGatewayCallLog measures, not
// approvald's behaviour: approvald commits each record before the handler
// returns.
type asyncRecorder struct {
	inner gateway.Recorder
	wg    sync.WaitGroup
}

func (a *asyncRecorder) Record(ctx context.Context, c gateway.Call) {
	a.wg.Go(func() { a.inner.Record(context.WithoutCancel(ctx), c) })
}

func (a *asyncRecorder) Close() { a.wg.Wait() }

// BenchmarkGatewayCallLog runs the gateway scenario (16 clients, the
// example body and a 1 MiB one) in this process against the gateway with no
// call log, with the SQLite call log as approvald wires it (each record
// committed before the handler returns), and with the same call log written
// after the handler has returned. It reports requests per second and the
// clients' p50 and p99. Profile it with -cpuprofile:
//
//	go test ./cmd/approvald-load -run '^$' -bench GatewayCallLog -benchtime 4000x -count 3 -cpuprofile /tmp/gw.prof
func BenchmarkGatewayCallLog(b *testing.B) {
	for _, size := range []int{0, 1 << 20} {
		for _, variant := range []string{"none", "sqlite", "sqlite-async"} {
			b.Run("body="+strconv.Itoa(size)+"/log="+variant, func(b *testing.B) {
				upstreamAddr := freeAddr(b)
				host, port, _ := net.SplitHostPort(upstreamAddr)
				cfg := gateway.Config{APIKey: "gateway-key-0123456789", PublishHost: host, PublishPort: port, Timeout: time.Minute}
				var d gateway.Deps
				if variant != "none" {
					st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "calls.db"))
					if err != nil {
						b.Fatal(err)
					}
					defer st.Close()
					d.Recorder = &gateway.StoreRecorder{Store: st}
					if variant == "sqlite-async" {
						a := &asyncRecorder{inner: d.Recorder}
						defer a.Close()
						d.Recorder = a
					}
				}
				gw, err := gateway.New(cfg, d)
				if err != nil {
					b.Fatal(err)
				}
				mux := http.NewServeMux()
				gateway.Mount(mux, gw)
				srv := httptest.NewServer(mux)
				defer srv.Close()
				args := []string{"-url", srv.URL, "-scenario", "gateway", "-gateway-key", string(cfg.APIKey), "-upstream-addr", upstreamAddr,
					"-clients", "16", "-count", strconv.Itoa(b.N), "-body-bytes", strconv.Itoa(size), "-json", "-fail-on-error"}
				var out bytes.Buffer
				b.ResetTimer()
				if err := run(context.Background(), args, func(string) string { return "" }, &out); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				var rep Report
				if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(rep.Ops[0].PerSecond, "req/s")
				b.ReportMetric(rep.Ops[0].P50ms*1000, "p50-µs")
				b.ReportMetric(rep.Ops[0].P99ms*1000, "p99-µs")
			})
		}
	}
}
