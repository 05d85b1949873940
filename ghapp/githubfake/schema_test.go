package githubfake_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"approvald/ghapp/githubfake"
)

// webhookSchemas is GitHub's published webhook payload schemas,
// @octokit/webhooks-schemas (pinned in .ci/tools, installed by npm ci).
var webhookSchemas = filepath.Join("..", "..", ".ci", "tools", "node_modules", "@octokit", "webhooks-schemas", "schema.json")

// schemaURL is the URL the schemas are compiled under (they have no $id).
const schemaURL = "https://approvald.example.com/octokit-webhooks-schemas.json"

// schemas returns the compiled definitions of the webhook schemas
// (draft-07, formats asserted), or skips the test when they are not
// installed — failing instead when APPROVALD_REQUIRE_GITHUB_SCHEMAS=1
// (CI).
func schemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	compiled, err := compileSchemas()
	switch {
	case errors.Is(err, fs.ErrNotExist) && os.Getenv("APPROVALD_REQUIRE_GITHUB_SCHEMAS") != "1":
		t.Skipf("GitHub's webhook schemas are not installed (npm ci --prefix .ci/tools): %v", err)
	case errors.Is(err, fs.ErrNotExist):
		t.Fatalf("GitHub's webhook schemas are required (APPROVALD_REQUIRE_GITHUB_SCHEMAS=1): %v; run npm ci --prefix .ci/tools", err)
	case err != nil:
		t.Fatal(err)
	}
	return compiled
}

// compileSchemas compiles the definitions the tests use, once.
var compileSchemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	f, err := os.Open(webhookSchemas)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", webhookSchemas, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	// The library's uri-template check (v6.0.3) splits the template at
	// every "/", braces or not, and so refuses RFC 6570's path expansions
	// ({/sha}) that GitHub's links use: a check of the RFC's grammar
	// replaces it.
	c.RegisterFormat(&jsonschema.Format{Name: "uri-template", Validate: func(v any) error {
		if s, ok := v.(string); ok {
			return checkURITemplate(s)
		}
		return nil
	}})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	out := map[string]*jsonschema.Schema{}
	for _, d := range []string{requested, ping} {
		if out[d], err = c.Compile(schemaURL + "#/definitions/" + d); err != nil {
			return nil, fmt.Errorf("compiling %s: %w", d, err)
		}
	}
	return out, nil
})

// validate returns the schema's verdict on body.
func validate(t *testing.T, sch *jsonschema.Schema, body []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	return sch.Validate(v)
}

const (
	requested = "deployment_protection_rule$requested"
	ping      = "ping$event"
)

// schemaRuns are runs of every shape the fake's events take.
var schemaRuns = map[string]githubfake.Run{
	"an organization's repository, a push with a pull request": {Owner: "octo-org", Repo: "release", ID: 4815162342,
		Environment: "disclosure", Installation: 99, Ref: "refs/heads/main", SHA: "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0",
		Sender: "mona", Event: "push", DeploymentID: 1234567, PullRequests: []int{7}},
	"a user's repository, dispatched by its owner, no pull request": {Owner: "octocat", Repo: "Hello-World", OwnerType: githubfake.OwnerUser,
		ID: 30433642, Environment: "production", Installation: 5, Ref: "main", SHA: "6dcb09b5b57875f334f61aebed695e2e4193db5e",
		Sender: "octocat", Event: "workflow_dispatch", DeploymentID: 42},
	"a user's repository, pull requests of a collaborator": {Owner: "mona", Repo: "dotfiles", OwnerType: githubfake.OwnerUser,
		ID: 7, Environment: "staging", Installation: 6, Ref: "refs/heads/feature/x", SHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
		Sender: "hubot", Event: "pull_request", DeploymentID: 9, PullRequests: []int{1, 2, 3}},
	"unicode in the environment, ref and names": {Owner: "ünïcode-örg", Repo: "データ", ID: 99, Environment: "Produktion – Größe 🚀",
		Installation: 8, Ref: "refs/heads/fix/ünïcode-名前", SHA: "", Sender: "zoë", PullRequests: []int{12}},
	"a bot's scheduled run of a tag, no deployment id": {Owner: "octo-org", Repo: "svc.v2_x", ID: 1, Environment: "prod",
		Installation: 1, Ref: "refs/tags/v1.2.0", SHA: "0000000000000000000000000000000000000000", Sender: "dependabot[bot]",
		Event: "schedule", PullRequests: []int{5}},
}

// TestWebhookSchemas_DeploymentProtectionRuleEventsAreGitHubs judges the
// fake's deployment_protection_rule events by GitHub's published webhook
// schemas: what the App is tested with is what GitHub sends.
func TestWebhookSchemas_DeploymentProtectionRuleEventsAreGitHubs(t *testing.T) {
	t.Parallel()
	sch := schemas(t)[requested]
	f := githubfake.New(t, 12)
	for name, run := range schemaRuns {
		for _, api := range []string{f.URL, githubfake.DefaultAPIURL, "https://ghe.example.com/api/v3"} {
			body := githubfake.DeploymentProtectionRuleBody(api, run, "requested")
			if err := validate(t, sch, body); err != nil {
				t.Errorf("%s, API %s: the event is not GitHub's:\n%v", name, api, err)
			}
			checkLinks(t, name, api, body)
		}
		if err := validate(t, sch, f.DeploymentProtectionRule(run).Body); err != nil {
			t.Errorf("%s, the fake's delivery: %v", name, err)
		}
	}
}

// checkLinks fails when a link of body is not ASCII (GitHub escapes names
// in its links), or is to a host other than GitHub's, the API's (api) or
// a reserved example one, or when its organization does not match the
// owner's type.
func checkLinks(t *testing.T, name, api string, body []byte) {
	t.Helper()
	apiHost := hostOf(t, api)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s/%d", path, i), c)
			}
		case string:
			if strings.HasSuffix(path, "url") || strings.HasSuffix(path, "href") {
				for _, r := range v {
					if r > 0x7e || r < 0x21 {
						t.Errorf("%s: link %s = %q is not escaped", name, path, v)
						return
					}
				}
				if strings.HasSuffix(path, "/ssh_url") { // git@github.com:owner/repo.git
					return
				}
				if h := hostOf(t, v); h != "github.com" && h != apiHost && h != "example.com" && !strings.HasSuffix(h, ".example.com") {
					t.Errorf("%s: link %s = %q is to host %s", name, path, v, h)
				}
			}
		}
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	walk("", m)
	owner := m["repository"].(map[string]any)["owner"].(map[string]any)
	if _, has := m["organization"]; has != (owner["type"] == "Organization") {
		t.Errorf("%s: owner of type %v, organization given: %v", name, owner["type"], has)
	}
}

// hostOf returns the host of link.
func hostOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Host == "" {
		t.Fatalf("%q is not an absolute URL: %v", link, err)
	}
	return u.Hostname()
}

// TestWebhookSchemas_PingIsGitHubs judges the fake's pings by GitHub's
// schema of the ping event.
func TestWebhookSchemas_PingIsGitHubs(t *testing.T) {
	t.Parallel()
	sch := schemas(t)[ping]
	f := githubfake.New(t, 12)
	for name, body := range map[string][]byte{
		"Ping()":            githubfake.Ping().Body,
		"(*Fake).Ping()":    f.Ping().Body,
		"PingBody on GHES":  githubfake.PingBody("https://ghe.example.com/api/v3", 7),
		"PingBody, no App":  githubfake.PingBody(githubfake.DefaultAPIURL, 0),
		"PingBody, the App": githubfake.PingBody(f.URL, f.AppID),
	} {
		if err := validate(t, sch, body); err != nil {
			t.Errorf("%s: the ping is not GitHub's:\n%v", name, err)
		}
	}
}

// TestWebhookSchemas_JudgeRefusesWhatGitHubWouldNotSend shows that the
// check bites: the fake's event with a required property removed, an
// unknown one added, or a value of the wrong type or format fails it.
func TestWebhookSchemas_JudgeRefusesWhatGitHubWouldNotSend(t *testing.T) {
	t.Parallel()
	s := schemas(t)
	run := schemaRuns["an organization's repository, a push with a pull request"]
	good := githubfake.DeploymentProtectionRuleBody(githubfake.DefaultAPIURL, run, "requested")
	if err := validate(t, s[requested], good); err != nil {
		t.Fatalf("the unchanged event fails: %v", err)
	}
	for _, tc := range []struct {
		name  string
		path  []string
		value any // nil removes
		want  string
	}{
		{"no sender", []string{"sender"}, nil, "at '': missing property 'sender'"},
		{"no repository owner's node_id", []string{"repository", "owner", "node_id"}, nil, "at '/repository/owner': missing property 'node_id'"},
		{"no sender gravatar_id", []string{"sender", "gravatar_id"}, nil, "at '/sender': missing property 'gravatar_id'"},
		{"no deployment creator", []string{"deployment", "creator"}, nil, "at '/deployment': missing property 'creator'"},
		{"no pull request head sha", []string{"pull_requests", "0", "head", "sha"}, nil, "at '/pull_requests/0/head': missing property 'sha'"},
		{"no pull request _links", []string{"pull_requests", "0", "_links"}, nil, "at '/pull_requests/0': missing property '_links'"},
		{"no organization description", []string{"organization", "description"}, nil, "at '/organization': missing property 'description'"},
		{"no installation node_id", []string{"installation", "node_id"}, nil, "at '/installation': missing property 'node_id'"},
		{"no repository visibility", []string{"repository", "visibility"}, nil, "at '/repository': missing property 'visibility'"},
		{"an unknown property", []string{"workflow_run"}, map[string]any{"id": 1}, "at '': additional properties 'workflow_run' not allowed"},
		{"another action", []string{"action"}, "completed", "at '/action': value must be 'requested'"},
		{"a string id", []string{"deployment", "id"}, "1234567", "at '/deployment/id': got string, want integer"},
		{"a creation time that is not a date-time", []string{"deployment", "created_at"}, "yesterday", "at '/deployment/created_at': 'yesterday' is not valid date-time"},
		{"a relative callback URL", []string{"deployment_callback_url"}, "/repos/octo-org/release/actions/runs/1/deployment_protection_rule",
			"at '/deployment_callback_url': '/repos/octo-org/release/actions/runs/1/deployment_protection_rule' is not valid uri"},
		{"a link template left open", []string{"repository", "commits_url"}, "https://api.github.com/repos/octo-org/release/commits{/sha",
			"at '/repository/commits_url': 'https://api.github.com/repos/octo-org/release/commits{/sha' is not valid uri-template"},
		{"a pull request state GitHub has not", []string{"pull_requests", "0", "state"}, "merged", "at '/pull_requests/0/state': value must be one of"},
	} {
		body := edit(t, good, tc.path, tc.value)
		err := validate(t, s[requested], body)
		if err == nil {
			t.Errorf("%s: passes", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: fails, but not naming %q:\n%v", tc.name, tc.want, err)
		}
	}
	if err := validate(t, s[ping], edit(t, githubfake.Ping().Body, []string{"hook", "config"}, nil)); err == nil ||
		!strings.Contains(err.Error(), "at '/hook': missing property 'config'") {
		t.Errorf("a ping without its hook's config: %v", err)
	}
	if err := validate(t, s[ping], edit(t, githubfake.Ping().Body, []string{"hook", "events"}, []string{"deployment_protection_rule"})); err == nil {
		t.Error("a ping of a hook subscribed to deployment_protection_rule passes (the schema 7.6.1 did not allow it: see PingBody)")
	}
	if err := validate(t, s[requested], githubfake.Ping().Body); err == nil {
		t.Error("a ping passes as a deployment_protection_rule event")
	}
}

// edit returns body with the value at path set to value (removed when
// nil).
func edit(t *testing.T, body []byte, path []string, value any) []byte {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	at := doc
	for _, k := range path[:len(path)-1] {
		switch node := at.(type) {
		case map[string]any:
			at = node[k]
		case []any:
			var i int
			fmt.Sscan(k, &i)
			at = node[i]
		}
	}
	m, ok := at.(map[string]any)
	if !ok {
		t.Fatalf("no object at %v", path)
	}
	last := path[len(path)-1]
	if _, has := m[last]; !has && value == nil {
		t.Fatalf("nothing to remove at %v", path)
	}
	if value == nil {
		delete(m, last)
	} else {
		m[last] = value
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkURITemplate returns why s is not a URI Template by RFC 6570's
// grammar (section 2), nil when it is: literals without the characters
// the RFC excludes (a "%" only to start a pct-encoding), and expressions
// "{" [operator] varspec *("," varspec) "}" of a level 2 or 3 operator,
// variable names of ALPHA, DIGIT, "_", pct-encoded and inner ".", each
// with a prefix ":1"…":9999" or an explode "*" at most.
func checkURITemplate(s string) error {
	pct := func(i int) bool {
		return i+2 < len(s) && s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2])
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return fmt.Errorf("the expression at %d has no closing brace", i)
			}
			if err := checkExpression(s[i+1 : i+end]); err != nil {
				return fmt.Errorf("the expression at %d: %w", i, err)
			}
			i += end + 1
		case c == '%':
			if !pct(i) {
				return fmt.Errorf("%% at %d starts no pct-encoding", i)
			}
			i += 3
		case c <= 0x20 || c == 0x7f || strings.IndexByte("\"'<>\\^`|}", c) >= 0:
			return fmt.Errorf("%q at %d may not be in a literal", c, i)
		default:
			i++
		}
	}
	return nil
}

// checkExpression checks what is between an expression's braces.
func checkExpression(e string) error {
	if e != "" && strings.IndexByte("+#./;?&", e[0]) >= 0 {
		e = e[1:]
	} else if e != "" && strings.IndexByte("=,!@|", e[0]) >= 0 {
		return fmt.Errorf("operator %q is reserved", e[0])
	}
	for _, spec := range strings.Split(e, ",") {
		name, mod := spec, ""
		if i := strings.IndexAny(spec, ":*"); i >= 0 {
			name, mod = spec[:i], spec[i:]
		}
		if name == "" || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
			return fmt.Errorf("%q is not a variable name", name)
		}
		for i := 0; i < len(name); i++ {
			switch c := name[i]; {
			case c == '%':
				if i+2 >= len(name) || !isHex(name[i+1]) || !isHex(name[i+2]) {
					return fmt.Errorf("%q has a bad pct-encoding", name)
				}
				i += 2
			case c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			default:
				return fmt.Errorf("%q may not be in variable name %q", c, name)
			}
		}
		switch {
		case mod == "" || mod == "*":
		case mod[0] == ':' && len(mod) >= 2 && len(mod) <= 5 && mod[1] != '0' && strings.Trim(mod[1:], "0123456789") == "":
		default:
			return fmt.Errorf("%q is not a prefix or explode modifier", mod)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// TestURITemplateCheck: the grammar check that stands in for the
// library's accepts RFC 6570's examples and GitHub's links, and refuses
// what the grammar excludes.
func TestURITemplateCheck(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"", "https://api.github.com/users/octocat/starred{/owner}{/repo}",
		"https://api.github.com/repos/o/r/notifications{?since,all,participating}",
		"https://api.github.com/repos/o/r/contents/{+path}", "https://api.github.com/repos/o/r/compare/{base}...{head}",
		"{var:3}", "{list*}", "{#path:6}/here", "X{.who,who}", "{;x,y,empty}", "{&keys*}", "a%41b{%41b.c_d}",
		"https://example.com/ünïcode/{x}",
	} {
		if err := checkURITemplate(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"{", "https://api.github.com/repos/o/r/commits{/sha", "a}b", "{}", "{a,,b}", "{v:0}", "{v:10000}", "{v:}",
		"{.}", "{a..b}", "{a b}", "{=x}", "{|x}", "{x*3}", "a b", "a%4", "a%zzb", "a<b", `a"b`, "a^b", "{a{b}}",
	} {
		if err := checkURITemplate(bad); err == nil {
			t.Errorf("%q passes", bad)
		}
	}
}
