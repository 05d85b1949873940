package celrule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"approvald/approval"
)

// MaxCost is the cost limit of one evaluation, in CEL's cost units (about
// one per operation, one per element a comprehension visits).
const MaxCost = 100_000

// interruptEvery is how many comprehension iterations pass between two
// checks of the context.
const interruptEvery = 100

// cacheSize bounds the compiled programs kept by Compile.
const cacheSize = 1024

// Input is what an expression sees. Payload empty means null.
type Input struct {
	Payload     json.RawMessage
	Requester   string
	Groups      []string
	ServiceRule string
	Items       []approval.Item
	Now         time.Time
}

// Error is a compile error: the 1-based line and column (in characters) of
// the first issue by position, and CEL's message for it.
type Error struct {
	Line, Column int
	Message      string
}

// Error returns "line L, column C: message".
func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// Program is a compiled expression, safe for concurrent use.
type Program struct {
	expr string
	prg  cel.Program
}

// String returns the expression p was compiled from.
func (p *Program) String() string { return p.expr }

// checking serializes compiles (see compile).
var checking sync.Mutex

var env = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("payload", cel.DynType),
		cel.Variable("requester", cel.StringType),
		cel.Variable("groups", cel.ListType(cel.StringType)),
		cel.Variable("service_rule", cel.StringType),
		cel.Variable("items", cel.ListType(cel.MapType(cel.StringType, cel.DynType))),
		cel.Variable("now", cel.TimestampType),
		cel.ParserExpressionSizeLimit(approval.MaxExpressionLen),
	)
})

// Compile parses and type-checks expr; its result must be a bool (or dyn,
// checked when evaluated). Programs are cached by expression, a bounded
// number of them. The error is an *Error: the expression's first issue, or
// line 1, column 1 for an expression too long or not bool.
func Compile(expr string) (*Program, error) {
	if len(expr) > approval.MaxExpressionLen {
		// Not cached: the cache's bound on entries then bounds its bytes.
		return compile(expr)
	}
	if c, ok := programs.get(expr); ok {
		return c.prg, c.err
	}
	prg, err := compile(expr)
	if err != nil && !errors.As(err, new(*Error)) {
		// Not the expression's fault (the environment failed): not cached.
		return nil, err
	}
	programs.put(expr, compiled{prg, err})
	return prg, err
}

func compile(expr string) (p *Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, &panicError{op: "compile", value: r}
		}
	}()
	if len(expr) > approval.MaxExpressionLen {
		return nil, &Error{Line: 1, Column: 1, Message: fmt.Sprintf("the expression is longer than %d bytes", approval.MaxExpressionLen)}
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("celrule: environment: %w", err)
	}
	// cel-go's checker fills a lazily built catalog of the environment
	// while other checks read it (a data race the race detector found in
	// v0.33.3 when two undeclared references were checked at once), so
	// checks take turns; they are rare (the cache holds the programs), and
	// evaluations run side by side.
	checking.Lock()
	defer checking.Unlock()
	ast, iss := e.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, firstIssue(iss)
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, &Error{Line: 1, Column: 1, Message: fmt.Sprintf("the expression gives %s, not bool", t)}
	}
	prg, err := e.Program(ast,
		cel.CostLimit(MaxCost),
		cel.InterruptCheckFrequency(interruptEvery),
	)
	if err != nil {
		return nil, &Error{Line: 1, Column: 1, Message: err.Error()}
	}
	return &Program{expr: expr, prg: prg}, nil
}

// firstIssue returns the first error of iss by position.
func firstIssue(iss *cel.Issues) *Error {
	errs := iss.Errors()
	if len(errs) == 0 {
		return &Error{Line: 1, Column: 1, Message: iss.String()}
	}
	first := errs[0]
	for _, e := range errs[1:] {
		l, fl := e.Location, first.Location
		if l.Line() < fl.Line() || l.Line() == fl.Line() && l.Column() < fl.Column() {
			first = e
		}
	}
	return &Error{
		Line:    max(first.Location.Line(), 1),
		Column:  max(first.Location.Column()+1, 1),
		Message: first.Message,
	}
}

// Eval evaluates p on in within MaxCost and ctx's deadline. Any error (the
// payload not JSON, a missing key, a type error at run time, a result that
// is not a bool, the cost limit, the deadline) is returned with false;
// callers must fail closed.
func (p *Program) Eval(ctx context.Context, in Input) (bool, error) {
	vars, err := activation(in)
	if err != nil {
		return false, err
	}
	return p.eval(ctx, vars)
}

// Vars is an Input decoded once for the evaluation of several programs (a
// request against every stored policy's match). It is read-only, safe for
// concurrent use.
type Vars struct{ m map[string]any }

// Prepare decodes in for EvalVars. Its error (the payload or an item's
// metadata not JSON, a number out of range) is the one Eval would return.
func Prepare(in Input) (*Vars, error) {
	m, err := activation(in)
	if err != nil {
		return nil, err
	}
	return &Vars{m}, nil
}

// EvalVars is Eval on prepared variables.
func (p *Program) EvalVars(ctx context.Context, vars *Vars) (bool, error) {
	return p.eval(ctx, vars.m)
}

func (p *Program) eval(ctx context.Context, vars map[string]any) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, &panicError{op: "evaluate", value: r}
		}
	}()
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("celrule: %w", err)
	}
	out, _, err := p.prg.ContextEval(ctx, vars)
	if err != nil {
		return false, fmt.Errorf("celrule: %w", err)
	}
	b, isBool := out.(types.Bool)
	if !isBool {
		return false, fmt.Errorf("celrule: the expression gave %s, not bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// panicError is a panic of CEL turned into an error: an expression must
// never bring the server down.
type panicError struct {
	op    string
	value any
}

func (e *panicError) Error() string { return fmt.Sprintf("celrule: %s: panic: %v", e.op, e.value) }

// compiled is a cache entry: a program or the expression's compile error.
type compiled struct {
	prg *Program
	err error
}

// cache is a bounded map of compiled expressions; when full, it evicts the
// least recently used.
type cache struct {
	mu   sync.Mutex
	m    map[string]*entry
	tick uint64
}

type entry struct {
	c    compiled
	used uint64
}

var programs = &cache{m: make(map[string]*entry)}

func (c *cache) get(expr string) (compiled, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[expr]
	if !ok {
		return compiled{}, false
	}
	c.tick++
	e.used = c.tick
	return e.c, true
}

func (c *cache) put(expr string, v compiled) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[expr]; !ok && len(c.m) >= cacheSize {
		c.evict()
	}
	c.tick++
	c.m[expr] = &entry{c: v, used: c.tick}
}

// evict drops the least recently used quarter of the entries, so that the
// linear scan is paid once per cacheSize/4 insertions.
func (c *cache) evict() {
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return c.m[keys[i]].used < c.m[keys[j]].used })
	for _, k := range keys[:len(keys)/4+1] {
		delete(c.m, k)
	}
}
