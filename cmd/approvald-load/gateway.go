package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// The CR8TOR contract's example package call, copied from
// shared/contracts/cr8tor so that the tool needs nothing beside itself.
var (
	//go:embed testdata/package.request.json
	examplePackageRequest []byte
	//go:embed testdata/package.response.json
	examplePackageResponse []byte
)

// The example's run, replaced in each client's body by a run of its own:
// the gateway allows one package at a time per run.
const (
	exampleProject   = `"Pr004"`
	exampleStartTime = `"20250205_010101"`
)

// packageBody returns the example package body, grown to at least size
// bytes by more tables in its dataset (a larger project) when size is
// larger than the example.
func packageBody(size int) ([]byte, error) {
	if size <= len(examplePackageRequest) {
		return examplePackageRequest, nil
	}
	var body map[string]any
	if err := json.Unmarshal(examplePackageRequest, &body); err != nil {
		return nil, err
	}
	dataset := body["dataset"].(map[string]any)
	tables := dataset["tables"].([]any)
	table := func(i int) any {
		cols := make([]any, 8)
		for c := range cols {
			cols[c] = map[string]any{"name": fmt.Sprintf("column_%d", c), "datatype": "varchar", "description": "a column of the demo table"}
		}
		return map[string]any{"name": fmt.Sprintf("table_%05d", i), "columns": cols, "description": "one of the demo's many tables"}
	}
	base, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	one, _ := json.Marshal(table(0))
	for i := range (size - len(base) + len(one)) / (len(one) + 1) {
		tables = append(tables, table(i))
	}
	for {
		dataset["tables"] = tables
		b, err := json.Marshal(body)
		if err != nil || len(b) >= size {
			return b, err
		}
		tables = append(tables, table(len(tables)))
	}
}

// gatewayClient posts body, made client i's own run, with the gateway key.
func gatewayClient(hc *http.Client, o options, body []byte, suffix string, i int) step {
	mine := bytes.Replace(body, []byte(exampleProject), fmt.Appendf(nil, `"Pr004-%s"`, suffix), 1)
	mine = bytes.Replace(mine, []byte(exampleStartTime), fmt.Appendf(nil, `"20250205_%06d"`, i), 1)
	h := http.Header{"Content-Type": {"application/json"}, "X-Api-Key": {o.gatewayKey}}
	target := o.url + o.path
	return func(ctx context.Context, t *tallies) {
		start := time.Now()
		code, _, err := send(ctx, hc, http.MethodPost, target, h, mine)
		switch {
		case ctx.Err() != nil:
		case err != nil || code != http.StatusOK:
			t.fail("package", code)
		default:
			t.ok("package", time.Since(start))
		}
	}
}

// upstream is a fake Publish service: it reads the body and answers
// /data-publish/package with the contract's example response at once.
type upstream struct {
	URL string
	srv *http.Server
}

func startUpstream(addr string) (*upstream, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake upstream: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /data-publish/package", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(examplePackageResponse)
	})
	u := &upstream{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// Close stops the fake upstream.
func (u *upstream) Close() { _ = u.srv.Shutdown(context.Background()) }
