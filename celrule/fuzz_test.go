package celrule

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"approvald/approval"
)

// FuzzCompile checks that no expression makes Compile or Eval panic (CEL's
// panics would be turned into errors; the fuzzer fails on those too), that
// compile errors carry a position, and that evaluation of an accepted
// expression on a fixed input ends within the cost limit. The seed corpus is
// under testdata/fuzz/FuzzCompile.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`double(payload.amount) < 1000.0`,
		`"oncall" in groups`,
		`now.getHours("Europe/London") >= 9 && now.getHours("Europe/London") < 17`,
		`items.all(i, i.digest.startsWith("sha256:"))`,
	} {
		f.Add(s)
	}
	in := base()
	in.Payload = json.RawMessage(`{"amount": 250, "price": 9.5, "s": "text", "l": [1, 2.5, "x", null, {"k": []}], "m": {"a": {"b": true}}, "n": null}`)
	in.Items = append(manyItems(50), sha256Item, sha512Item, approval.Item{ID: "m", Metadata: json.RawMessage(`[1,{"x":"y"}]`)})
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := Compile(expr)
		var pe *panicError
		if errors.As(err, &pe) {
			t.Fatalf("Compile(%q) panicked: %v", expr, pe)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q): %T %v, not an *Error", expr, err, err)
			}
			if ce.Line < 1 || ce.Column < 1 || ce.Message == "" {
				t.Fatalf("Compile(%q) = %+v: no position or message", expr, ce)
			}
			return
		}
		if len(expr) > approval.MaxExpressionLen {
			t.Fatalf("Compile accepted %d bytes", len(expr))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ok, err := p.Eval(ctx, in)
		if errors.As(err, &pe) {
			t.Fatalf("Eval(%q) panicked: %v", expr, pe)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Eval(%q) ran for 10 s within the cost limit", expr)
		}
		if err != nil && ok {
			t.Fatalf("Eval(%q) = true with the error %v", expr, err)
		}
	})
}
