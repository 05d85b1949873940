package rocrate

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/gateway"
)

// TestBuild_RandomRecordsNameEverything builds records of random files
// (paths from an alphabet with separators, dots, spaces, "#", "%", ":" and
// non-ASCII) and random reviews, and checks after expansion that every
// file is a part of the root with its SHA-512, and every review an action
// with its agent and time.
func TestBuild_RandomRecordsNameEverything(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(22, 7))
	alphabet := []string{"a", "b", "Z", "0", "/", "/", ".", "..", " ", "#", "%", ":", "?", "é", "文", "-", "_", "\\", "+", "&"}
	people := []string{"user:alice", "user:bob", "svc:robot", "system:policy/auto", "dpo@example.org", "ünï côdé"}
	decisions := []approval.Decision{approval.DecisionApprove, approval.DecisionReject, approval.DecisionRequestChanges}
	for iter := range 30 {
		r := approvedRequest()
		r.Reviews = nil
		for i := range rng.IntN(6) {
			rv := approval.Review{
				Reviewer: people[rng.IntN(len(people))],
				Decision: decisions[rng.IntN(len(decisions))],
				Comment:  strings.Repeat("ok ", rng.IntN(3)),
				At:       t0.Add(time.Duration(i) * time.Minute),
				Version:  int64(1 + rng.IntN(3)),
				Void:     rng.IntN(4) == 0,
			}
			if rng.IntN(3) == 0 {
				rv.By = people[rng.IntN(len(people))]
			}
			r.Reviews = append(r.Reviews, rv)
		}
		in := input(t, r)
		in.Files = nil
		for range rng.IntN(12) {
			var p strings.Builder
			for range 1 + rng.IntN(10) {
				p.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			f := gateway.PublishedFile{Path: p.String(), SHA512: sha512Hex(p.String())}
			if rng.IntN(2) == 0 {
				f.Bytes = bytesOf(rng.Int64N(1 << 40))
			}
			in.Files = append(in.Files, f)
		}
		if rng.IntN(2) == 0 {
			in.BaseURL = "https://approvals.example/base"
		}
		rec := build(t, in)
		parts := values(rec.node(t, "./"), schema+"hasPart")
		if len(parts) != len(in.Files) {
			t.Fatalf("iteration %d: %d parts for %d files", iter, len(parts), len(in.Files))
		}
		for i, f := range in.Files {
			n := rec.node(t, parts[i])
			if value(t, n, schema+"name") != f.Path || !hasType(n, schema+"MediaObject") {
				t.Fatalf("iteration %d: part %d is %v, want %q", iter, i, n, f.Path)
			}
			if value(t, rec.node(t, value(t, n, spdxNS+"checksum")), spdxNS+"checksumValue") != f.SHA512 {
				t.Fatalf("iteration %d: %q has another checksum", iter, f.Path)
			}
		}
		for i, rv := range r.Reviews {
			n := rec.node(t, "#review-"+itoa(i+1))
			performer := rv.Reviewer
			if rv.By != "" {
				performer = rv.By
			}
			if value(t, rec.node(t, value(t, n, schema+"agent")), schema+"name") != performer ||
				value(t, n, schema+"endTime") != timestamp(rv.At) {
				t.Fatalf("iteration %d: review %d is %v", iter, i+1, n)
			}
		}
	}
}
