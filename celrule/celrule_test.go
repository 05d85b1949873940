package celrule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
)

var (
	sha256Item = approval.Item{ID: "a", Name: "a.csv", MediaType: "text/csv", Size: 10, Digest: "sha256:" + strings.Repeat("0", 64), Metadata: json.RawMessage(`{"rows": 3}`)}
	sha512Item = approval.Item{ID: "b", Name: "b.bin", Size: 20, Digest: "sha512:" + strings.Repeat("1", 128)}
	// morning is 10:30 in UTC, 11:30 in London (summer time: 10:30 UTC is 11:30 BST).
	morning = time.Date(2026, 7, 1, 10, 30, 0, 0, time.UTC)
	evening = time.Date(2026, 7, 1, 19, 0, 0, 0, time.UTC)
)

func base() Input {
	return Input{
		Payload:     json.RawMessage(`{"amount": 250, "price": 999.5, "currency": "EUR", "tags": ["x", "y"], "nested": {"ok": true}}`),
		Requester:   "alice",
		Groups:      []string{"dev", "oncall"},
		ServiceRule: "publish",
		Items:       []approval.Item{sha256Item},
		Now:         morning,
	}
}

func TestEval_Decides(t *testing.T) {
	t.Parallel()
	with := func(f func(*Input)) Input { in := base(); f(&in); return in }
	cases := []struct {
		name string
		expr string
		in   Input
		want bool
	}{
		{"amount under the limit", `double(payload.amount) < 1000.0`, base(), true},
		{"amount over the limit", `double(payload.amount) < 1000.0`, with(func(in *Input) { in.Payload = json.RawMessage(`{"amount": 1500}`) }), false},
		{"fractional amount under the limit", `double(payload.amount) < 1000.0`, with(func(in *Input) { in.Payload = json.RawMessage(`{"amount": 999.99}`) }), true},
		{"integer amount compared as int", `payload.amount < 1000`, base(), true},
		{"int and double compare", `payload.price < 1000`, base(), true},
		{"requester in a group", `"oncall" in groups`, base(), true},
		{"requester not in the group", `"oncall" in groups`, with(func(in *Input) { in.Groups = []string{"dev"} }), false},
		{"no groups", `"oncall" in groups`, with(func(in *Input) { in.Groups = nil }), false},
		{"inside the change window", `now.getHours() >= 9 && now.getHours() < 17`, base(), true},
		{"outside the change window", `now.getHours() >= 9 && now.getHours() < 17`, with(func(in *Input) { in.Now = evening }), false},
		{"change window in a time zone", `now.getHours("Europe/London") == 11`, base(), true},
		{"weekday", `now.getDayOfWeek() >= 1 && now.getDayOfWeek() <= 5`, base(), true}, // a Wednesday
		{"items all sha256", `items.all(i, i.digest.startsWith("sha256:"))`, base(), true},
		{"an item not sha256", `items.all(i, i.digest.startsWith("sha256:"))`, with(func(in *Input) { in.Items = append(in.Items, sha512Item) }), false},
		{"no items: all holds", `items.all(i, i.digest.startsWith("sha256:"))`, with(func(in *Input) { in.Items = nil }), true},
		{"item size and count", `size(items) == 1 && items[0].size <= 10`, base(), true},
		{"item metadata", `items[0].metadata.rows == 3`, base(), true},
		{"item without metadata sees null", `items.exists(i, i.metadata == null)`, with(func(in *Input) { in.Items = []approval.Item{sha512Item} }), true},
		{"item media type empty when none", `items[0].media_type == ""`, with(func(in *Input) { in.Items = []approval.Item{sha512Item} }), true},
		{"has guards a missing key", `has(payload.discount) && payload.discount > 10`, base(), false},
		{"nested payload", `payload.nested.ok`, base(), true},
		{"payload list", `"y" in payload.tags && size(payload.tags) == 2`, base(), true},
		{"string functions", `requester.matches("^a") && payload.currency.endsWith("UR")`, base(), true},
		{"service rule", `service_rule == "publish"`, base(), true},
		{"requester", `requester != "mallory"`, base(), true},
		{"null payload", `payload == null`, with(func(in *Input) { in.Payload = nil }), true},
		{"false literal", `false`, base(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(c.expr)
			if err != nil {
				t.Fatalf("Compile(%q): %v", c.expr, err)
			}
			got, err := p.Eval(context.Background(), c.in)
			if err != nil {
				t.Fatalf("Eval(%q): %v", c.expr, err)
			}
			if got != c.want {
				t.Errorf("Eval(%q) = %v, want %v", c.expr, got, c.want)
			}
			vars, err := Prepare(c.in)
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			for range 2 { // prepared variables are not changed by an evaluation
				if got, err := p.EvalVars(context.Background(), vars); err != nil || got != c.want {
					t.Errorf("EvalVars(%q) = %v, %v; want %v", c.expr, got, err, c.want)
				}
			}
		})
	}
}

func TestCompile_ErrorsHavePositions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		expr         string
		line, column int
		message      string
	}{
		{"syntax", `payload.amount <`, 1, 17, "Syntax error"},
		{"syntax on a later line", "requester == \"a\" &&\n  (groups", 2, 10, "Syntax error"},
		{"unknown variable", `amount < 1000`, 1, 1, "undeclared reference to 'amount'"},
		{"unknown variable after others", `requester == "a" && user == "b"`, 1, 21, "undeclared reference to 'user'"},
		{"unknown function", `requester.shout()`, 1, 16, "undeclared reference to 'shout'"},
		{"type error", `requester + 1 == "a"`, 1, 11, "no matching overload"},
		{"int result", `size(groups)`, 1, 1, "gives int, not bool"},
		{"string result", `requester`, 1, 1, "gives string, not bool"},
		{"empty", ``, 1, 1, "Syntax error"},
		{"too long", `true || ` + strings.Repeat(`true || `, approval.MaxExpressionLen/8) + `true`, 1, 1, "longer than 4096 bytes"},
		{"multi-byte column", `"é" == ? `, 1, 8, "Syntax error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(c.expr)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want an error", c.expr, p)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q): %T %v, want *Error", c.expr, err, err)
			}
			if ce.Line != c.line || ce.Column != c.column || !strings.Contains(ce.Message, c.message) {
				t.Errorf("Compile(%q) = line %d, column %d, %q; want line %d, column %d, containing %q", c.expr, ce.Line, ce.Column, ce.Message, c.line, c.column, c.message)
			}
			want := fmt.Sprintf("line %d, column %d: ", c.line, c.column)
			if !strings.HasPrefix(ce.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", ce.Error(), want)
			}
		})
	}
}

func TestEval_ErrorsAreNotFalse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		expr    string
		payload string
		want    string
	}{
		{"missing payload key", `payload.discount > 10`, `{"amount": 1}`, "no such key"},
		{"missing key under a negation", `!(payload.discount > 10)`, `{"amount": 1}`, "no such key"},
		{"field of null", `payload.amount < 1000`, ``, ""},
		{"type error at run time", `payload.currency < 1000`, `{"currency": "EUR"}`, "no such overload"},
		{"dyn result not bool", `payload.amount`, `{"amount": 1}`, "not bool"},
		{"payload not JSON", `true`, `{"amount": `, "payload"},
		{"payload two values", `true`, `{} {}`, "payload"},
		{"number out of range", `true`, `{"amount": 1e400}`, "out of range"},
		{"bad time zone", `now.getHours("Nowhere/City") == 1`, `{}`, ""},
		{"division by zero", `payload.amount / 0 == 1`, `{"amount": 1}`, "division by zero"},
		{"index out of range", `items[5].size > 0`, `{}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile(c.expr)
			if err != nil {
				t.Fatalf("Compile(%q): %v", c.expr, err)
			}
			in := base()
			in.Payload = json.RawMessage(c.payload)
			got, err := p.Eval(context.Background(), in)
			if err == nil {
				t.Fatalf("Eval(%q) = %v, nil; want an error", c.expr, got)
			}
			if vars, perr := Prepare(in); perr == nil {
				if ok, err := p.EvalVars(context.Background(), vars); err == nil || ok {
					t.Errorf("EvalVars(%q) = %v, %v; want an error as Eval's", c.expr, ok, err)
				}
			} else if perr.Error() != err.Error() {
				t.Errorf("Prepare: %v; Eval: %v; want the same error", perr, err)
			}
			if got {
				t.Errorf("Eval(%q) returned true with its error", c.expr)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Eval(%q) error %q, want it to contain %q", c.expr, err, c.want)
			}
		})
	}
}

func manyItems(n int) []approval.Item {
	items := make([]approval.Item, n)
	for i := range items {
		items[i] = approval.Item{ID: fmt.Sprint(i), Name: fmt.Sprintf("f%d", i), Size: int64(i), Digest: sha256Item.Digest}
	}
	return items
}

func TestEval_CostLimit(t *testing.T) {
	t.Parallel()
	in := base()
	in.Items = manyItems(approval.MaxItems)

	// One pass over the most items a request may have is well within the limit.
	p, err := Compile(`items.all(i, i.digest.startsWith("sha256:") && i.size >= 0)`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Eval(context.Background(), in); err != nil || !ok {
		t.Fatalf("one pass over %d items = %v, %v; want true, nil", len(in.Items), ok, err)
	}

	// A pass per item is not.
	p, err = Compile(`items.all(i, items.exists(j, j.size == i.size))`)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := p.Eval(context.Background(), in)
	if err == nil || ok {
		t.Fatalf("quadratic pass = %v, %v; want the cost limit", ok, err)
	}
	if !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Errorf("error %q, want the cost limit", err)
	}

	// So is a comprehension that builds a big list from the payload.
	p, err = Compile(`payload.tags.map(a, payload.tags.map(b, payload.tags.map(c, a + b + c))).size() > 0`)
	if err != nil {
		t.Fatal(err)
	}
	tags, _ := json.Marshal(map[string]any{"tags": strings.Split(strings.Repeat("x,", 99)+"x", ",")})
	in.Payload = tags
	if ok, err := p.Eval(context.Background(), in); err == nil || ok || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Errorf("cubic map = %v, %v; want the cost limit", ok, err)
	}
}

func TestEval_ContextDeadline(t *testing.T) {
	t.Parallel()
	in := base()
	in.Items = manyItems(approval.MaxItems)
	p, err := Compile(`items.all(i, i.size >= 0)`)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	ok, err := p.Eval(ctx, in)
	if ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Eval past the deadline = %v, %v; want context.DeadlineExceeded", ok, err)
	}

	// The program itself stops inside a comprehension when the context ends,
	// not only Eval before it starts.
	vars, err := activation(in)
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if out, _, err := p.prg.ContextEval(cctx, vars); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("ContextEval with a cancelled context = %v, %v; want context.Canceled", out, err)
	}
}

func TestCompile_CachesAndIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	const expr = `items.all(i, i.digest.startsWith("sha256:")) && "oncall" in groups && double(payload.amount) < 1000.0`
	first, err := Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := base()
			want := g%2 == 0
			if !want {
				in.Groups = []string{"dev"}
			}
			for range 50 {
				p, err := Compile(expr)
				if err != nil {
					errs <- err
					return
				}
				if p != first {
					errs <- fmt.Errorf("Compile returned a new program for a cached expression")
					return
				}
				got, err := p.Eval(context.Background(), in)
				if err != nil || got != want {
					errs <- fmt.Errorf("Eval = %v, %v; want %v", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCache_IsBounded(t *testing.T) {
	t.Parallel()
	c := &cache{m: make(map[string]*entry)}
	keep := compiled{}
	c.put("kept", keep)
	for i := range 3 * cacheSize {
		c.get("kept") // used most recently, so never evicted
		c.put(fmt.Sprint(i), compiled{})
		if len(c.m) > cacheSize {
			t.Fatalf("after %d insertions the cache holds %d entries, more than %d", i+2, len(c.m), cacheSize)
		}
	}
	if _, ok := c.get("kept"); !ok {
		t.Error("the most recently used entry was evicted")
	}
	if _, ok := c.get("0"); ok {
		t.Error("the least recently used entry was kept")
	}
}

func TestCompile_DoesNotCacheTooLongExpressions(t *testing.T) {
	t.Parallel()
	long := strings.Repeat(" ", approval.MaxExpressionLen+1) + "false"
	if _, err := Compile(long); err == nil {
		t.Fatal("Compile accepted a too long expression")
	}
	if _, ok := programs.get(long); ok {
		t.Error("a too long expression was cached")
	}
}

func TestCompile_CachesErrors(t *testing.T) {
	t.Parallel()
	_, err1 := Compile(`nope(`)
	_, err2 := Compile(`nope(`)
	if err1 == nil || err1 != err2 {
		t.Errorf("Compile of a bad expression twice = %v, %v; want the same cached *Error", err1, err2)
	}
}
