package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README's examples are transcripts of a real server: the test below
// starts approvald as `go run ./cmd/approvald` does, sends each request an
// example shows (the same method, path, headers and body as its curl
// command), runs its jq filter (jq_test.go), and compares the transcript,
// commands included, with the README's block between <!-- NAME:begin -->
// and <!-- NAME:end -->. With APPROVALD_UPDATE_README=1 it rewrites the
// blocks instead.
//
// What changes from run to run is replaced (normalize): ids by 01…, keys
// by apd_…, signing secrets by whsec_…, digests by sha256:…, times,
// request ids, Date and Content-Length by …, and the test's temporary
// database, secrets folder and port by the defaults a reader gets.

// readmeStep is one line a reader types, with what it prints.
type readmeStep struct {
	// note is shown before the command: comment lines ("# 1. …").
	note string
	// shell, when set, is a line the reader types that the test does not
	// send: {{VAR}} is replaced by the variable's value.
	shell string
	// start shows the server's start-up output under shell.
	start bool

	// The request, as curl sends it to localhost:8000.
	method string // shown as -X when curl would not choose it
	path   string // $VAR is expanded
	key    string // the variable holding the bearer key, if any
	header string // another header, as written after -H
	body   string // sent with -d; shown between single quotes
	json   bool   // with -H 'Content-Type: application/json' (else -d sends a form's type, as curl does)
	heads  bool   // -D /dev/stderr: the status line and headers, then the body
	code   bool   // -w '\n%{http_code}\n': the status after the body
	jq     string // what follows "| jq " ("" for none)
	// save names the variable the output goes into (VAR=$(curl … | jq …));
	// nothing is shown.
	save string
	// keep sets variables from the answer's fields: variable → field.
	keep map[string]string
}

// readmeBlock is one generated block of the README.
type readmeBlock struct {
	name  string
	steps []readmeStep
}

// readmeTour is the README's "A five-minute tour", then the examples of
// the policies and delivery sections, on the same server.
var readmeTour = []readmeBlock{{name: "tour", steps: []readmeStep{
	{shell: "go run ./cmd/approvald", start: true},
	{note: "\n# In another terminal, with the admin key approvald printed:", shell: "ADMIN={{ADMIN}}"},

	{note: "\n# 1. As the admin, create a key for the billing service and one for a finance lead",
		path: "/v1/api-keys", key: "ADMIN", json: true, jq: ".", keep: map[string]string{"BILLING": "key"},
		body: `{"name":"billing","scopes":["approvals:create","approvals:read","approvals:review"]}`},
	{path: "/v1/api-keys", key: "ADMIN", json: true, jq: "-r .key", keep: map[string]string{"LEAD": "key"},
		body: `{"name":"finance-lead","scopes":["approvals:review","approvals:read"],"groups":["finance"]}`},
	{shell: "BILLING={{BILLING}}; LEAD={{LEAD}}   # the two keys above"},

	{note: "\n# 2. Billing asks for approval. The answer says who may approve and what the request waits for;\n" +
		"#    content_digest covers what is reviewed (every field but the review state)",
		path: "/v1/approvals", key: "BILLING", json: true, heads: true, jq: ".", keep: map[string]string{"ID": "id"},
		body: `{"title":"Pay invoice 42","payload":{"invoice":42,"amount":"1200.00","currency":"EUR"}}`},
	{shell: "ID={{ID}}   # the id above"},

	{note: "\n# 3. Billing may not approve its own request; the lead finds it in its inbox",
		path: "/v1/approvals/$ID/reviews", key: "BILLING", json: true, jq: ".", body: `{"decision":"approve"}`},
	{path: "/v1/approvals?awaiting=me", key: "LEAD", jq: "-c '[.items[] | {id, title, pending_reason: .progress.pending_reason}]'"},

	{note: "\n# 4. The finance lead approves; the review keeps the digest of the content it approved",
		path: "/v1/approvals/$ID/reviews", key: "LEAD", json: true, body: `{"decision":"approve","comment":"matches PO 7781"}`,
		jq: "'{status, status_code, previous_status, decided_at, content_digest, reviews, version}'"},

	{note: "\n# 5. A decided request keeps what was approved: only its comment may change. (The outcome the\n" +
		"#    answer allows is recorded by the CR8TOR gateway after a publish; no PATCH sets it.)",
		method: "PATCH", path: "/v1/approvals/$ID", key: "BILLING", json: true, jq: ".", body: `{"title":"Pay invoice 43"}`},
	{method: "PATCH", path: "/v1/approvals/$ID", key: "BILLING", json: true, jq: "'{status, comment, version}'", body: `{"comment":"paid on 24 November"}`},

	{note: "\n# 6. The history: every change and who made it; each entry's hash covers the one before",
		path: "/v1/approvals/$ID/history", key: "LEAD", jq: "-c '.verified, (.items[] | {seq, actor, action, changed: (.changes|keys)})'"},

	{note: "\n# 7. Large payments need finance AND the CFO: a stored policy, chosen by name",
		path: "/v1/policies", key: "ADMIN", json: true, jq: "-c '{name, version}'",
		body: `{"name":"large-payment","policy":{"rules":[{"name":"finance","min_approvals":1,"groups":["finance"]},{"name":"cfo","min_approvals":1,"principals":["user:cfo"]}]}}`},
	{save: "ID2", path: "/v1/approvals", key: "BILLING", json: true, jq: "-r .id",
		body: `{"title":"Pay invoice 99","payload":{"amount":"250000.00"},"policy_name":"large-payment"}`},
	{path: "/v1/approvals/$ID2/reviews", key: "LEAD", json: true, body: `{"decision":"approve"}`,
		jq: "'{status, policy_source, progress: .progress | {satisfied, pending_reason, rules: [.rules[] | {rule, approvals, needed, approved_by, may_approve}]}}'"},

	{note: "\n# 8. A reviewer can send a request back instead: the requester fixes it and resubmits, and the\n" +
		"#    reviews before the fix no longer count",
		save: "ID3", path: "/v1/approvals", key: "BILLING", json: true, jq: "-r .id",
		body: `{"title":"Pay invoice 51","justification":"monthly hosting","payload":{"amount":"90.00"}}`},
	{path: "/v1/approvals/$ID3/reviews", key: "LEAD", json: true, body: `{"decision":"request_changes","comment":"add the PO number"}`,
		jq: "-c '{status, cycle}'"},
	{method: "PATCH", path: "/v1/approvals/$ID3", key: "BILLING", json: true, jq: "-c '{status, version}'",
		body: `{"payload":{"amount":"90.00","po":"7790"}}`},
	{method: "POST", path: "/v1/approvals/$ID3/resubmit", key: "BILLING", jq: "-c '{status, cycle, reviews: [.reviews[] | {reviewer, decision, void}]}'"},
	{path: "/v1/approvals/$ID3/reviews", key: "LEAD", json: true, body: `{"decision":"approve"}`, jq: "-c '{status, cycle}'"},

	{note: "\n# 9. Every decision has a signed receipt: an in-toto statement in a DSSE envelope, signed with the\n" +
		"#    server's Ed25519 key (published at /.well-known/approvald/keys), that anyone can check offline",
		path: "/v1/approvals/$ID/receipt", key: "LEAD",
		jq: "'.payload | @base64d | fromjson | {subject, predicate: .predicate | {request_id, version, decision, policy_sha256, reviews: [.reviews[] | {reviewer, decision, version}]}}'"},
	{path: "/.well-known/approvald/keys", jq: "-c '[.keys[] | {kty, crv, alg}]'"},
}}, {name: "policies", steps: []readmeStep{
	{path: "/v1/policies", key: "ADMIN", json: true, jq: "-c '{name, version}'", body: `{
  "name": "data-release",
  "policy": {"rules": [
    {"name": "owners",   "min_approvals": 2, "groups": ["data-owners"]},
    {"name": "security", "min_approvals": 1, "groups": ["security"]}]}}`},
	{path: "/v1/approvals", key: "BILLING", json: true, jq: "'{policy_source, pending_reason: .progress.pending_reason}'",
		body: `{"title": "Release cohort 7", "policy_name": "data-release", "remind_after": "4h"}`},
	{note: "# A requester may add rules to the mandated policy, never remove any:",
		path: "/v1/approvals", key: "BILLING", json: true, jq: "-c '{policy_source, rules: [.policy.rules[].name]}'",
		body: `{"title": "Release cohort 8", "policy_name": "data-release", "policy": {"rules": [{"name": "legal", "min_approvals": 1, "principals": ["user:counsel"]}]}}`},
}}, {name: "service-rules", steps: []readmeStep{
	{path: "/v1/service-rules", key: "ADMIN", json: true, jq: ".",
		body: `{"name":"payments","url":"https://payments.example.com/approvals","timeout":"10s","max_attempts":10,"headers":{"X-Api-Key":"the-receivers-key"}}`},
	{path: "/v1/approvals", key: "BILLING", json: true, jq: "-c '{status, service_rule, delivery}'",
		body: `{"title":"Pay invoice 77","service_rule":"payments","payload":{"invoice":77}}`},
}}}

// readmeGateway is the CR8TOR section's example, on a server configured
// as its first line says, with nothing listening at 127.0.0.1:8003.
var readmeGateway = readmeBlock{name: "cr8tor", steps: []readmeStep{
	{shell: "APPROVALSERVICEAPIKEY=cli-key PUBLISH_CONTAINER_NAME=127.0.0.1 go run ./cmd/approvald   # in another terminal"},
	{path: "/project/publish", header: "x-api-key: wrong", body: `{}`, code: true},
	{path: "/project/publish", header: "x-api-key: cli-key", body: `{"project_name":"p","project_start_time":"20250101_000000"}`, code: true},
}}

// TestREADME_TourIsWhatTheServerAnswers: the README's tour and examples
// are what approvald answers today. On a difference it shows where, and
// how to rewrite the blocks (APPROVALD_UPDATE_README=1).
func TestREADME_TourIsWhatTheServerAnswers(t *testing.T) {
	t.Parallel()
	readmePath := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}

	srv := startREADMEServer(t, map[string]string{})
	r := &readmeRun{t: t, base: srv.base, vars: map[string]string{"ADMIN": srv.adminKey}, startup: srv.startup}
	for _, b := range readmeTour {
		got[b.name] = srv.normalize(r.block(b))
	}

	if ln, err := net.Listen("tcp", "127.0.0.1:8003"); err != nil {
		t.Logf("the cr8tor example is not checked: it needs nothing at 127.0.0.1:8003 (%v)", err)
	} else {
		ln.Close()
		gw := startREADMEServer(t, map[string]string{"APPROVALSERVICEAPIKEY": "cli-key", "PUBLISH_CONTAINER_NAME": "127.0.0.1"})
		r := &readmeRun{t: t, base: gw.base, vars: map[string]string{}}
		got[readmeGateway.name] = gw.normalize(r.block(readmeGateway))
	}

	updated := string(readme)
	for name, text := range got {
		var diff string
		updated, diff = replaceBlock(t, updated, name, text)
		if diff != "" && os.Getenv("APPROVALD_UPDATE_README") != "1" {
			t.Errorf("the README's %q block is not what the server answers:\n%s\n"+
				"If the change is meant, rewrite the blocks: APPROVALD_UPDATE_README=1 go test -run TestREADME_Tour ./cmd/approvald", name, diff)
		}
	}
	if os.Getenv("APPROVALD_UPDATE_README") == "1" && updated != string(readme) {
		tmp := readmePath + ".tmp"
		if err := os.WriteFile(tmp, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, readmePath); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote the README's generated blocks")
	}
}

// replaceBlock returns readme with the block name holding text, and a
// description of the first difference from what it held ("" if none).
func replaceBlock(t *testing.T, readme, name, text string) (string, string) {
	t.Helper()
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	i := strings.Index(readme, begin)
	j := strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("the README has no block %s…%s", strings.TrimSpace(begin), end)
	}
	i += len(begin)
	want := "```console\n" + text + "```\n"
	return readme[:i] + want + readme[j:], firstDifference(readme[i:j], want)
}

// firstDifference describes where have and want first differ, with a few
// lines of each around it; "" when they are equal.
func firstDifference(have, want string) string {
	if have == want {
		return ""
	}
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	n := 0
	for n < len(h) && n < len(w) && h[n] == w[n] {
		n++
	}
	window := func(lines []string) string {
		from, to := max(n-2, 0), min(n+3, len(lines))
		var b strings.Builder
		for k := from; k < to; k++ {
			mark := "  "
			if k == n {
				mark = "> "
			}
			fmt.Fprintf(&b, "    %s%s\n", mark, lines[k])
		}
		return b.String()
	}
	return fmt.Sprintf("  at line %d of the block, the README has\n%s  and the server gives\n%s", n+1, window(h), window(w))
}

// readmeServer is a running approvald started for the README.
type readmeServer struct {
	base     string
	adminKey string // the key approvald generated and printed
	startup  string // what it printed until it listened
	dir      string // its temporary folder (database, secrets)
}

// startREADMEServer runs approvald with env as `go run ./cmd/approvald`
// would in a terminal: a fresh SQLite database, a generated admin key,
// text logs (what a terminal gets); stdout and stderr go to one writer,
// in the order they are written.
func startREADMEServer(t *testing.T, env map[string]string) *readmeServer {
	t.Helper()
	s := &readmeServer{dir: t.TempDir()}
	env["SECRETS_MNT_PATH"] = filepath.Join(s.dir, "secrets")
	args := []string{"--addr", "127.0.0.1:0", "--database", "sqlite:" + filepath.Join(s.dir, "approvald.db"), "--log-format", "text"}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	listening := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, &out, &out, func(a net.Addr) {
			s.startup = out.String() // before any request is logged
			listening <- a
		})
	}()
	select {
	case a := <-listening:
		s.base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("approvald stopped before listening: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatal("approvald did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	if m := regexp.MustCompile(`it is shown only now:\n(apd_\S+)\n`).FindStringSubmatch(s.startup); m != nil {
		s.adminKey = m[1]
	}
	return s
}

// The values normalize replaces.
var readmeVarying = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "01…"},
	{regexp.MustCompile(`apd_[A-Za-z0-9_-]+`), "apd_…"},
	{regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`), "whsec_…"},
	{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "sha256:…"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "…"},
	{regexp.MustCompile(`(?m)^(X-Request-Id|Date|Content-Length): .*$`), "$1: …"},
	{regexp.MustCompile(`"request_id": ?"[0-9a-f]+"`), `"request_id": "…"`},
	{regexp.MustCompile(`addr=127\.0\.0\.1:\d+`), "addr=[::]:8000"},
	{regexp.MustCompile(`time=\S+`), "time=…"},
}

// normalize replaces in text what differs from run to run.
func (s *readmeServer) normalize(text string) string {
	text = strings.ReplaceAll(text, filepath.Join(s.dir, "secrets"), "./secrets")
	text = strings.ReplaceAll(text, s.dir+string(filepath.Separator), "")
	for _, v := range readmeVarying {
		text = v.re.ReplaceAllString(text, v.with)
	}
	return text
}

// readmeRun runs blocks against one server, keeping the reader's shell
// variables.
type readmeRun struct {
	t       *testing.T
	base    string
	vars    map[string]string
	startup string
}

// block returns the transcript of b.
func (r *readmeRun) block(b readmeBlock) string {
	var out strings.Builder
	for _, s := range b.steps {
		if s.note != "" {
			out.WriteString(s.note + "\n")
		}
		out.WriteString(r.step(s))
	}
	return out.String()
}

// step runs s and returns its command and what it prints.
func (r *readmeRun) step(s readmeStep) string {
	r.t.Helper()
	if s.shell != "" {
		line := s.shell
		for k, v := range r.vars {
			line = strings.ReplaceAll(line, "{{"+k+"}}", v)
		}
		if s.start {
			return "$ " + line + "\n" + r.startup
		}
		return "$ " + line + "\n"
	}
	output := r.send(s)
	if s.save != "" {
		r.vars[s.save] = strings.TrimSuffix(output, "\n")
		return "$ " + s.save + "=$(" + wrapCommand(s, len(s.save)+4) + ")\n"
	}
	return "$ " + wrapCommand(s, 2) + "\n" + output
}

// readmeWidth is where wrapCommand breaks a command's line.
const readmeWidth = 120

// wrapCommand returns s's curl command as the README shows it, broken
// into lines of readmeWidth at most where it can be; indent is the width
// of what precedes it on its first line.
func wrapCommand(s readmeStep, indent int) string {
	url := "localhost:8000" + s.path
	if strings.ContainsAny(url, "?&") {
		url = `"` + url + `"`
	}
	head := "curl -s"
	if s.method != "" && s.method != "GET" && !(s.method == "POST" && s.body != "") {
		head += " -X " + s.method
	}
	head += " " + url
	if s.key != "" {
		head += ` -H "Authorization: Bearer $` + s.key + `"`
	}
	if s.header != "" {
		head += " -H '" + s.header + "'"
	}
	if s.json {
		head += " -H 'Content-Type: application/json'"
	}
	parts := []string{head}
	if s.body != "" {
		parts = append(parts, "-d '"+s.body+"'")
	}
	if s.heads {
		parts = append(parts, "-D /dev/stderr")
	}
	if s.code {
		parts = append(parts, `-w '\n%{http_code}\n'`)
	}
	if s.jq != "" {
		parts = append(parts, "| jq "+s.jq)
	}
	var b strings.Builder
	b.WriteString(parts[0])
	col := indent + len(parts[0])
	for _, p := range parts[1:] {
		first, _, multiline := strings.Cut(p, "\n")
		if col+1+len(first) > readmeWidth {
			b.WriteString(" \\\n    ")
			col = 4
		} else {
			b.WriteString(" ")
			col++
		}
		b.WriteString(p)
		if multiline {
			col = len(p) - strings.LastIndex(p, "\n") - 1
		} else {
			col += len(p)
		}
	}
	return b.String()
}

// send makes s's request as curl would and returns what the command
// prints.
func (r *readmeRun) send(s readmeStep) string {
	r.t.Helper()
	method := s.method
	if method == "" {
		method = "GET"
		if s.body != "" {
			method = "POST"
		}
	}
	path := os.Expand(s.path, func(k string) string {
		v, ok := r.vars[k]
		if !ok {
			r.t.Fatalf("%s: $%s is not set", s.path, k)
		}
		return v
	})
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequest(method, r.base+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "curl/8")
	req.Header.Set("Accept", "*/*")
	if s.key != "" {
		req.Header.Set("Authorization", "Bearer "+r.vars[s.key])
	}
	if s.header != "" {
		k, v, _ := strings.Cut(s.header, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	switch {
	case s.json:
		req.Header.Set("Content-Type", "application/json")
	case s.body != "":
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // curl -d's
	}
	head, respBody, status := roundTripRaw(r.t, req)

	for v, field := range s.keep {
		value, err := jqRun("-r ."+field, respBody)
		if err != nil {
			r.t.Fatalf("%s %s: %v\n%s", method, path, err, respBody)
		}
		r.vars[v] = strings.TrimSuffix(value, "\n")
	}
	var out strings.Builder
	if s.heads {
		out.WriteString(strings.ReplaceAll(head, "\r\n", "\n"))
	}
	if s.jq != "" {
		text, err := jqRun(s.jq, respBody)
		if err != nil {
			r.t.Fatalf("%s %s: %v\n%s", method, path, err, respBody)
		}
		if real, ok := realJq(r.t, s.jq, respBody); ok && real != text {
			r.t.Errorf("jq %s: the installed jq prints\n%s\nthe test's jq\n%s", s.jq, real, text)
		}
		out.WriteString(text)
	} else {
		out.Write(respBody)
	}
	if s.code {
		out.WriteString("\n" + strconv.Itoa(status) + "\n")
	}
	return out.String()
}

// roundTripRaw sends req on a connection of its own and returns the
// response's status line and headers as the server wrote them (ending in
// the blank line), its body and its status.
func roundTripRaw(t *testing.T, req *http.Request) (string, []byte, int) {
	t.Helper()
	conn, err := net.Dial("tcp", req.URL.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(conn, &raw)), req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := strings.Cut(raw.String(), "\r\n\r\n")
	if !ok {
		t.Fatalf("no end of the headers in %q", raw.String())
	}
	return head + "\r\n\r\n", body, resp.StatusCode
}
