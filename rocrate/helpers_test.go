package rocrate

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"

	"approvald/approval"
	"approvald/gateway"
	"approvald/receipt"
)

var t0 = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)

func sha512Hex(s string) string {
	sum := sha512.Sum512([]byte(s))
	return hex.EncodeToString(sum[:])
}

func bytesOf(n int64) *int64 { return &n }

// approvedRequest returns an approved CR8TOR publication request with
// three reviews: one void, one by a delegate, one automatic.
func approvedRequest() *approval.Request {
	decided := t0.Add(3 * time.Hour)
	return &approval.Request{
		ID:           "req-7",
		Title:        "Publish project demo run 20250205_010101",
		Payload:      json.RawMessage(`{"request":{"project_name":"demo","project_start_time":"20250205_010101"}}`),
		Requester:    "svc:cr8tor",
		Subject:      "cr8tor:demo/20250205_010101",
		Policy:       approval.Policy{Rules: []approval.Rule{{Name: "custodians", Principals: []string{"user:alice", "user:bob"}, MinApprovals: 2}}},
		PolicySource: "service_rule:cr8tor-publish",
		Status:       approval.StatusApproved,
		Version:      3,
		CreatedAt:    t0,
		UpdatedAt:    decided,
		DecidedAt:    &decided,
		Reviews: []approval.Review{
			{Reviewer: "user:alice", Decision: approval.DecisionApprove, Comment: "first look", At: t0.Add(time.Hour), Version: 1, Void: true},
			{Reviewer: "user:alice", Decision: approval.DecisionApprove, Comment: "no small cells <5", At: t0.Add(2 * time.Hour), Version: 3},
			{Reviewer: "user:bob", By: "user:carol", Decision: approval.DecisionApprove, At: decided, Version: 3},
		},
		HistoryHead: "abc123",
	}
}

func publishedFiles() []gateway.PublishedFile {
	return []gateway.PublishedFile{
		{Path: "data/outputs/public/concept.csv", SHA512: sha512Hex("concept"), Bytes: bytesOf(1234)},
		{Path: "data/outputs/public/summary.parquet", SHA512: sha512Hex("summary"), Bytes: bytesOf(99)},
		{Path: "data/outputs/README", SHA512: sha512Hex("readme")},
	}
}

// signer returns a deterministic receipt signer.
func signer(t *testing.T, kid string) *receipt.Signer {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = 7
	}
	s, err := receipt.NewSigner(kid, ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sign returns the signed receipt of r.
func sign(t *testing.T, r *approval.Request) receipt.Envelope {
	t.Helper()
	st, err := receipt.Build(r)
	if err != nil {
		t.Fatal(err)
	}
	env, err := signer(t, "approvald-2026").Sign(st)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// input returns a complete input for r.
func input(t *testing.T, r *approval.Request) Input {
	t.Helper()
	return Input{
		Request: r,
		Run:     gateway.Run{ProjectName: "demo", StartTime: "20250205_010101"},
		Files:   publishedFiles(),
		Receipt: sign(t, r),
	}
}

// record is a built and expanded release record.
type record struct {
	doc      []byte
	compact  map[string]any
	expanded []any
	nodes    map[string]map[string]any // expanded nodes by @id
}

func build(t *testing.T, in Input) record {
	t.Helper()
	doc, err := Build(in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var rec record
	rec.doc = doc
	if err := json.Unmarshal(doc, &rec.compact); err != nil {
		t.Fatalf("the record is not JSON: %v", err)
	}
	rec.expanded, err = Expand(doc)
	if err != nil {
		t.Fatalf("Expand: %v\n%s", err, doc)
	}
	rec.nodes = map[string]map[string]any{}
	for _, n := range rec.expanded {
		node := n.(map[string]any)
		id, _ := node["@id"].(string)
		if _, dup := rec.nodes[id]; dup {
			t.Fatalf("two nodes have @id %q", id)
		}
		rec.nodes[id] = node
	}
	// RO-Crate 1.1 asks for JSON-LD 1.0: the record expands alike in that mode.
	if exp10 := expandMode(t, doc, ld.JsonLd_1_0); len(exp10) != len(rec.expanded) {
		t.Fatalf("JSON-LD 1.0 expansion has %d nodes, 1.1 has %d", len(exp10), len(rec.expanded))
	}
	if dropped := droppedTerms(rec.compact, rec.expanded); len(dropped) > 0 {
		t.Fatalf("expansion dropped or did not resolve: %v", dropped)
	}
	return rec
}

const schema = "http://schema.org/"

// expandMode expands doc offline in JSON-LD processing mode mode, in safe mode.
func expandMode(t *testing.T, doc []byte, mode string) []any { return expandWith(t, doc, mode, true) }

// expandWith expands doc offline in JSON-LD processing mode mode, in safe
// mode when safe is set.
func expandWith(t *testing.T, doc []byte, mode string, safe bool) []any {
	t.Helper()
	var input any
	if err := json.Unmarshal(doc, &input); err != nil {
		t.Fatal(err)
	}
	loader, err := newLoader()
	if err != nil {
		t.Fatal(err)
	}
	opts := ld.NewJsonLdOptions("")
	opts.DocumentLoader = loader
	opts.ProcessingMode = mode
	opts.SafeMode = safe
	out, err := ld.NewJsonLdProcessor().Expand(input, opts)
	if err != nil {
		t.Fatalf("expanding in %s mode: %v", mode, err)
	}
	return out
}

// node returns the expanded node id, failing the test when it is absent.
func (rec record) node(t *testing.T, id string) map[string]any {
	t.Helper()
	n, ok := rec.nodes[id]
	if !ok {
		t.Fatalf("no node %q after expansion", id)
	}
	return n
}

// values returns the expanded values of property iri of n: @value of
// literals, @id of references.
func values(n map[string]any, iri string) []string {
	var out []string
	vs, _ := n[iri].([]any)
	for _, v := range vs {
		m := v.(map[string]any)
		if s, ok := m["@value"].(string); ok {
			out = append(out, s)
		} else if s, ok := m["@id"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// value returns the single value of property iri of n.
func value(t *testing.T, n map[string]any, iri string) string {
	t.Helper()
	vs := values(n, iri)
	if len(vs) != 1 {
		t.Fatalf("node %v: %s has %d values %v, want 1", n["@id"], iri, len(vs), vs)
	}
	return vs[0]
}

func types(n map[string]any) []string {
	var out []string
	ts, _ := n["@type"].([]any)
	for _, x := range ts {
		out = append(out, x.(string))
	}
	return out
}

func hasType(n map[string]any, iri string) bool {
	for _, x := range types(n) {
		if x == iri {
			return true
		}
	}
	return false
}

// droppedTerms compares the record as written with its expansion node by
// node (expansion keeps the order of @graph): every property must have
// expanded to an absolute IRI, the one its term names, with as many
// values, and every @type to an absolute IRI. It returns what did not.
func droppedTerms(compact map[string]any, expanded []any) []string {
	var out []string
	graph, _ := compact["@graph"].([]any)
	if len(graph) != len(expanded) {
		return []string{fmt.Sprintf("%d nodes became %d", len(graph), len(expanded))}
	}
	for i, c := range graph {
		cn := c.(map[string]any)
		en := expanded[i].(map[string]any)
		id, _ := cn["@id"].(string)
		want := map[string]int{}
		for k, v := range cn {
			if strings.HasPrefix(k, "@") {
				continue
			}
			want[k] = 1
			if a, ok := v.([]any); ok {
				want[k] = len(a)
			}
		}
		got := map[string]int{}
		for k, v := range en {
			if strings.HasPrefix(k, "@") {
				continue
			}
			if !absolute(k) {
				out = append(out, id+": property "+k+" is not an absolute IRI")
			}
			got[termOf(k)] = len(v.([]any))
		}
		for k, n := range want {
			if got[k] != n {
				out = append(out, fmt.Sprintf("%s: %s had %d values, has %d after expansion", id, k, n, got[k]))
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				out = append(out, id+": expansion made up "+k)
			}
		}
		var ctypes []any
		switch ty := cn["@type"].(type) {
		case string:
			ctypes = []any{ty}
		case []any:
			ctypes = ty
		}
		etypes := types(en)
		if len(ctypes) != len(etypes) {
			out = append(out, fmt.Sprintf("%s: types %v became %v", id, ctypes, etypes))
		}
		for _, ty := range etypes {
			if !absolute(ty) {
				out = append(out, id+": type "+ty+" is not an absolute IRI")
			}
		}
	}
	return out
}

// absolute reports whether iri is an absolute http(s) IRI.
func absolute(iri string) bool {
	return strings.HasPrefix(iri, "http://") || strings.HasPrefix(iri, "https://")
}

// termOf returns the term the record uses for an expanded property IRI.
func termOf(iri string) string {
	switch {
	case strings.HasPrefix(iri, schema):
		return strings.TrimPrefix(iri, schema)
	case strings.HasPrefix(iri, spdxNS):
		return "spdx:" + strings.TrimPrefix(iri, spdxNS)
	case iri == "http://purl.org/dc/terms/conformsTo":
		return "conformsTo"
	}
	return iri
}
