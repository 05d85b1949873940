package celrule

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"approvald/approval"
)

// benchInput is a typical request: an invoice payload, a requester in two
// groups, and 20 items.
func benchInput() Input {
	items := make([]approval.Item, 20)
	for i := range items {
		items[i] = approval.Item{ID: fmt.Sprint("f", i), Name: fmt.Sprintf("out/part-%02d.csv", i), Size: 1 << 20,
			Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"}
	}
	return Input{
		Payload:   json.RawMessage(`{"invoice":42,"amount":"1200.00","currency":"EUR","lines":[1,2,3]}`),
		Requester: "svc:billing", Groups: []string{"finance", "oncall"}, ServiceRule: "payments",
		Items: items, Now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
	}
}

// BenchmarkEval measures one automatic-decision check as the engine makes
// it: the program from the cache, the input prepared, evaluated.
func BenchmarkEval(b *testing.B) {
	for _, expr := range []string{
		`double(payload.amount) < 1000.0`,
		`"oncall" in groups && now.getHours() >= 9 && now.getHours() < 17`,
		`items.all(i, i.digest.startsWith("sha256:") && i.size < 10485760)`,
	} {
		b.Run(expr, func(b *testing.B) {
			in := benchInput()
			b.ReportAllocs()
			for b.Loop() {
				p, err := Compile(expr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Eval(b.Context(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompileUncached measures the check of a policy's expression
// when it is saved (a cache miss: parse and type-check).
func BenchmarkCompileUncached(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := Compile(fmt.Sprintf(`double(payload.amount) < %d.0 && "oncall" in groups`, i)); err != nil {
			b.Fatal(err)
		}
	}
}
