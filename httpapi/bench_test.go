package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"approvald/approval"
	"approvald/auth"
	"approvald/engine"
	"approvald/receipt"
	"approvald/store/sqlite"

	"approvald/internal/httpbench"
	"approvald/internal/httpkit"
)

// benchAPI is the fuzz tests' set-up, for benchmarks.
func benchAPI(b *testing.B) (http.Handler, string, string) { return testAPI(b) }

// reportLatencies adds p50 and p99 (microseconds) and ops/s to the benchmark.
func reportLatencies(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(p(0.50), "p50-µs")
	b.ReportMetric(p(0.99), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "ops/s")
}

// BenchmarkCreate measures POST /v1/approvals through the handler on SQLite.
func BenchmarkCreate(b *testing.B) {
	h, key, _ := benchAPI(b)
	body := []byte(`{"title":"Pay invoice 42","payload":{"invoice":42,"amount":"1200.00","currency":"EUR"}}`)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t := time.Now()
		w := serve(h, "POST", "/v1/approvals", key, body)
		lat = append(lat, time.Since(t))
		if w.Code != http.StatusCreated {
			b.Fatalf("create: %d %s", w.Code, w.Body)
		}
	}
	reportLatencies(b, lat, time.Since(start))
}

// BenchmarkApprove measures POST /v1/approvals/{id}/reviews (an approval
// that decides) through the handler on SQLite; requests are made untimed.
func BenchmarkApprove(b *testing.B) {
	h, key, reviewer := benchAPI(b)
	body := []byte(`{"title":"Pay invoice 42","payload":{"invoice":42}}`)
	lat := make([]time.Duration, 0, b.N)
	var elapsed time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		w := serve(h, "POST", "/v1/approvals", key, body)
		var r approval.Request
		_ = json.Unmarshal(w.Body.Bytes(), &r)
		b.StartTimer()
		t := time.Now()
		w = serve(h, "POST", "/v1/approvals/"+r.ID+"/reviews", reviewer, []byte(`{"decision":"approve","comment":"ok"}`))
		d := time.Since(t)
		lat = append(lat, d)
		elapsed += d
		if w.Code != http.StatusOK {
			b.Fatalf("approve: %d %s", w.Code, w.Body)
		}
	}
	reportLatencies(b, lat, elapsed)
}

// decodeBodies are a typical create body (about 1 KB) and one with a
// payload of about 256 KiB, the largest allowed.
func decodeBodies(b *testing.B) map[string][]byte {
	typical := []byte(`{"title":"Pay invoice 2026-0042 to ACME Supplies Ltd","description":"Quarterly office supplies.\nApproved budget line 7.","service_rule":"payments","deadline":"2030-01-02T15:04:05Z","policy":{"rules":[{"name":"finance","groups":["finance"],"min_approvals":2},{"name":"owner","principals":["user:alice","user:bob"],"min_approvals":1}]},"payload":{"invoice":"2026-0042","supplier":{"name":"ACME Supplies Ltd","vat":"GB123456789","iban":"GB33BUKB20201555555555"},"amount":"1200.00","currency":"GBP","lines":[{"sku":"PAPER-A4","qty":40,"unit":"4.50"},{"sku":"TONER-K","qty":6,"unit":"120.00"},{"sku":"PENS-BL","qty":100,"unit":"0.90"}],"cost_centre":"OPS-7","requested_by":"user:carol","notes":"Deliver to the 3rd floor, reception desk, before noon; call the facilities desk on arrival.","approvals_so_far":[],"attachments":[{"name":"invoice-2026-0042.pdf","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]}}`)
	var big bytes.Buffer
	big.WriteString(`{"title":"Publish dataset","payload":{"files":[`)
	for i := 0; big.Len() < approval.MaxPayloadBytes-200; i++ {
		if i > 0 {
			big.WriteByte(',')
		}
		fmt.Fprintf(&big, `{"file_path":"staging/project/table_%05d.csv","hash_value":"%064x","total_bytes":%d,"ok":true}`, i, i*7919, i*1024)
	}
	big.WriteString(`]}}`)
	if len(typical) < 900 || len(typical) > 1200 {
		b.Fatalf("typical body is %d bytes", len(typical))
	}
	return map[string][]byte{"create-1KB": typical, "payload-256KiB": big.Bytes()}
}

// BenchmarkDecodeCreateBody compares decoding a create body as the API did
// before strict input (encoding/json alone: "plain") with the strict check
// and the same decoding ("strict"):
//
//	go test ./httpapi -run '^$' -bench DecodeCreateBody -benchmem
func BenchmarkDecodeCreateBody(b *testing.B) {
	bodies := decodeBodies(b)
	for _, name := range []string{"create-1KB", "payload-256KiB"} {
		body := bodies[name]
		b.Run(name+"/plain", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var in createBody
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/strict", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var in createBody
				if err := httpkit.Decode(body, &in, "payload"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSecurityHeaders measures securityHeaders alone (and cors, off
// without origins, as by default) around a handler writing a small JSON
// body, beside that handler bare.
func BenchmarkSecurityHeaders(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"headers", securityHeaders(cors(nil, bare))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/healthz", nil)
			httpbench.Serve(b, bc.h, req)
		})
	}
}

// BenchmarkGetDecided compares, on one decided request, GET
// /v1/approvals/{id} ("approval") with GET /v1/approvals/{id}/receipt
// ("receipt": the same read, then the statement built, canonicalised and
// signed with Ed25519) through the handler on SQLite:
//
//	go test ./httpapi -run '^$' -bench GetDecided -benchmem -count 5
func BenchmarkGetDecided(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	keys := auth.NewKeys(st, time.Now)
	_, requester, _ := keys.Create(ctx, auth.NewKey{Name: "requester", Scopes: []approval.Scope{approval.ScopeCreate, approval.ScopeRead}})
	_, reviewer, _ := keys.Create(ctx, auth.NewKey{Name: "reviewer", Scopes: []approval.Scope{approval.ScopeReview, approval.ScopeRead}})
	signer, err := receipt.GenerateSigner()
	if err != nil {
		b.Fatal(err)
	}
	ks, err := receipt.NewKeySet(signer.PublicKey())
	if err != nil {
		b.Fatal(err)
	}
	h := New(Deps{Engine: engine.New(st), Keys: keys, Limits: noLimits, Receipts: &receipt.Issuer{Signer: signer, Keys: ks}})
	w := serve(h, "POST", "/v1/approvals", requester, []byte(`{"title":"Pay invoice 42","payload":{"invoice":42,"amount":"1200.00","currency":"EUR"}}`))
	var r approval.Request
	_ = json.Unmarshal(w.Body.Bytes(), &r)
	if w = serve(h, "POST", "/v1/approvals/"+r.ID+"/reviews", reviewer, []byte(`{"decision":"approve","comment":"ok"}`)); w.Code != http.StatusOK {
		b.Fatalf("approve: %d %s", w.Code, w.Body)
	}
	for _, path := range []string{"approval", "receipt"} {
		url := "/v1/approvals/" + r.ID
		if path == "receipt" {
			url += "/receipt"
		}
		b.Run(path, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				t := time.Now()
				w := serve(h, "GET", url, reviewer, nil)
				lat = append(lat, time.Since(t))
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", url, w.Code, w.Body)
				}
			}
			reportLatencies(b, lat, time.Since(start))
		})
	}
}
