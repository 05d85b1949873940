package httpapi

import (
	"bytes"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"approvald/httpapi/docspage"
)

// docsPageFor renders the page for an OpenAPI document given as JSON.
func docsPageFor(t *testing.T, doc string) string {
	t.Helper()
	page, err := docspage.Render([]byte(doc))
	if err != nil {
		t.Fatalf("docspage.Render: %v", err)
	}
	return string(page)
}

var (
	idAttr     = regexp.MustCompile(`\sid="([^"]*)"`)
	anchorHref = regexp.MustCompile(`\shref="#([^"]*)"`)
	headingTag = regexp.MustCompile(`<h([1-6])[\s>]`)
	anyTag     = regexp.MustCompile(`<[a-zA-Z][^>]*>`)
	scripted   = regexp.MustCompile(`(?i)^<script|\son[a-z]+=|\sstyle=|javascript:`)
)

func TestDocsPage_EveryOperationAndWebhookHasItsSection(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	page := string(docsHTML)
	check := func(kind, path, method, id string) {
		if !strings.Contains(page, `<section class="op" id="op-`+id+`">`) {
			t.Errorf("%s %s %s: no section op-%s", kind, method, path, id)
		}
		if !strings.Contains(page, `<span class="method `+strings.ToLower(method)+`">`+method+"</span>"+path+"</h3>") {
			t.Errorf("%s %s %s: no heading", kind, method, path)
		}
		if !strings.Contains(page, `<a href="#op-`+id+`">`) {
			t.Errorf("%s %s %s: not in the contents", kind, method, path)
		}
	}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			check("operation", path, method, op.OperationID)
		}
	}
	if len(c.doc.Webhooks) == 0 {
		t.Fatal("the document has no webhooks: this test checks nothing of them")
	}
	for name, item := range c.doc.Webhooks {
		for method, op := range item.Operations() {
			check("webhook", name, method, op.OperationID)
		}
	}
	if !strings.Contains(page, `id="webhooks"`) {
		t.Error("the page has no Webhooks section")
	}
}

func TestDocsPage_ProblemTypesResolve(t *testing.T) {
	t.Parallel()
	page := string(docsHTML)
	ids := map[string]int{}
	for _, m := range idAttr.FindAllStringSubmatch(page, -1) {
		ids[m[1]]++
	}
	for _, code := range allProblemCodes {
		typ := problemTypeBase + code // what problem bodies link to
		anchor := strings.TrimPrefix(typ, "/docs#")
		if ids[anchor] != 1 {
			t.Errorf("problem type %s: %d elements with id %q, want 1", typ, ids[anchor], anchor)
		}
		if !strings.Contains(page, `<tr id="`+anchor+`"><td><code>`+code+`</code></td>`) {
			t.Errorf("problem %s has no row in the problems table", code)
		}
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("id %q appears %d times", id, n)
		}
	}
	for _, m := range anchorHref.FindAllStringSubmatch(page, -1) {
		if ids[m[1]] == 0 {
			t.Errorf("link to #%s, which no element has as id", m[1])
		}
	}
}

func TestDocsPage_LandmarksAndHeadings(t *testing.T) {
	t.Parallel()
	page := string(docsHTML)
	for _, landmark := range []string{"<header>", `<nav aria-labelledby="contents">`, "<main>", "</main>"} {
		if strings.Count(page, landmark) != 1 {
			t.Errorf("the page has %d %s, want 1", strings.Count(page, landmark), landmark)
		}
	}
	if !strings.Contains(page, `<html lang="en">`) {
		t.Error("the page does not declare its language")
	}
	prev := 0
	for i, m := range headingTag.FindAllStringSubmatch(page, -1) {
		level, _ := strconv.Atoi(m[1])
		if (i == 0) != (level == 1) || level > prev+1 {
			t.Fatalf("heading %d is h%d after h%d: headings must start at h1 and skip no level", i, level, prev)
		}
		prev = level
	}
}

// TestDocsPage_NeedsNoScript keeps the page within a CSP without scripts
// and, but for its own <style>, without inline styles.
func TestDocsPage_NeedsNoScript(t *testing.T) {
	t.Parallel()
	res := serveAndCheck(t, New(Deps{}), httptest.NewRequest("GET", "/docs", nil))
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q does not start from default-src 'none'", csp)
	}
	page := string(responseBody(t, res))
	for _, tag := range anyTag.FindAllString(page, -1) {
		if scripted.MatchString(tag) {
			t.Errorf("the page has a tag %s, which runs script or which the CSP would block", tag)
		}
	}
}

func TestDocsPage_InfoDescriptionIsMarkdown(t *testing.T) {
	t.Parallel()
	page := string(docsHTML)
	about := page[strings.Index(page, `<h2 id="about">`):strings.Index(page, `<h2 id="tag-`)]
	for _, want := range []string{
		`<h3 id="about-state-machine">State machine</h3>`,
		"<table>\n<thead>\n<tr>\n<th>code</th>",
		"<td><code>pending</code></td>",
		"<ul>\n<li>",
		"<pre><code>",
		`<a href="#problem-validation_failed"><code>validation_failed</code></a>`,
		"<em>Delivery</em>",
	} {
		if !strings.Contains(about, want) {
			t.Errorf("the description of the API does not render %q", want)
		}
	}
	for _, raw := range []string{"| code |", "```", "\n- ", "## "} {
		if strings.Contains(about, raw) {
			t.Errorf("the description of the API shows Markdown %q as it is", raw)
		}
	}
}

const docsTestDocument = `{
  "openapi": "3.1.0",
  "info": {"title": "T <script>alert(1)</script>", "version": "1", "summary": "S <b>", "description": %q},
  "paths": {
    "/things": {"get": {
      "operationId": "listThings", "tags": ["things"], "summary": "List <script>x</script>",
      "description": "Inline <script>alert(2)</script> and [a link](https://example.com/a?b=1&c=2), [a bad one](javascript:alert(3)), ` + "`gone`" + `.",
      "x-required-scope": "things:read", "x-audit": true,
      "responses": {"200": {"description": "<img src=x onerror=alert(4)> OK"}}
    }}
  },
  "webhooks": {"thingChanged": {"post": {
    "operationId": "thingChanged", "summary": "A thing changed",
    "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {"id": {"type": "string", "description": "<script>alert(5)</script>"}}}}}},
    "responses": {"2XX": {"description": "Received."}}
  }}},
  "x-problem-codes": [{"code": "gone", "status": 410, "description": "<script>alert(6)</script> it is gone"}]
}`

func TestDocsPage_TablesCodeListsAndLinks(t *testing.T) {
	t.Parallel()
	md := "Intro with *emphasis*.\n\n## Limits\n\n| name | max |\n|---|---:|\n| `title` | 200 |\n| body | 1 MiB |\n\n" +
		"- one\n- two\n\n```\ncurl -H 'Authorization: Bearer <key>' /v1\n```\n\nSee [the contract](/openapi.json) and `gone`."
	page := docsPageFor(t, strings.Replace(docsTestDocument, "%q", strconv.Quote(md), 1))
	for _, want := range []string{
		"<p>Intro with <em>emphasis</em>.</p>",
		`<h3 id="about-limits">Limits</h3>`,
		"<table>\n<thead>\n<tr>\n<th>name</th>\n<th align=\"right\">max</th>\n</tr>\n</thead>",
		"<td><code>title</code></td>\n<td align=\"right\">200</td>",
		"<ul>\n<li>one</li>\n<li>two</li>\n</ul>",
		"<pre><code>curl -H 'Authorization: Bearer &lt;key&gt;' /v1\n</code></pre>",
		`<a href="/openapi.json">the contract</a>`,
		`<a href="#problem-gone"><code>gone</code></a>`,
		`<tr id="problem-gone"><td><code>gone</code></td><td>410 Gone</td>`,
		`<section class="op" id="op-listThings">`,
		`Required scope: <code>things:read</code>`,
		`The <code>audit</code> scope may call it too.`,
		`<section class="op" id="op-thingChanged">`,
		`<span class="method post">POST</span>thingChanged</h3>`,
		`<a href="https://example.com/a?b=1&amp;c=2">a link</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %q", want)
		}
	}
}

func TestDocsPage_EscapesHTMLFromTheDocument(t *testing.T) {
	t.Parallel()
	md := "Before.\n\n<script>alert(7)</script>\n\nAfter <script>alert(8)</script>, `<script>in code</script>`."
	page := docsPageFor(t, strings.Replace(docsTestDocument, "%q", strconv.Quote(md), 1))
	if strings.Contains(page, "<script") || strings.Contains(page, "<img") || strings.Contains(page, "<b>") {
		t.Error("HTML in the document reached the page as markup")
	}
	if strings.Contains(page, "javascript:") {
		t.Error("a javascript: link reached the page")
	}
	for _, want := range []string{
		"<title>T &lt;script&gt;alert(1)&lt;/script&gt; (v1)</title>",
		"<strong>S &lt;b&gt;</strong>",
		"List &lt;script&gt;x&lt;/script&gt;",
		"<code>&lt;script&gt;in code&lt;/script&gt;</code>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page has no %q", want)
		}
	}
}

// TestDocsPage_ShowsAllOfTheDocument guards against text the Markdown
// renderer drops: goldmark omits raw HTML, and openapi.json must not need it.
func TestDocsPage_ShowsAllOfTheDocument(t *testing.T) {
	t.Parallel()
	if page := string(docsHTML); strings.Contains(page, "raw HTML omitted") {
		t.Errorf("a description of openapi.json holds raw HTML, which the page omits: write it in a code span")
	}
}

// BenchmarkDocsRender measures what rendering the page costs (at build
// time): loading openapi.json, parsing the template and rendering.
func BenchmarkDocsRender(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := docspage.Render(openapiJSON); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDocsPage_IsCurrent: the page the server embeds is what docspage
// renders from the document it serves.
func TestDocsPage_IsCurrent(t *testing.T) {
	t.Parallel()
	page, err := docspage.Render(openapiJSON)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(page, docsHTML) {
		t.Fatal("httpapi/docs.html is not the page openapi.json renders to: run go generate ./httpapi")
	}
}

// Each operation's section says who may call it: its scope, any
// credential, or nobody in particular (public).
func TestDocsPage_SaysWhoMayCallEachOperation(t *testing.T) {
	t.Parallel()
	page := string(docsHTML)
	for id, want := range map[string]string{
		"createNotificationChannel":  "Required scope: <code>admin</code>",
		"listNotificationChannels":   "The <code>audit</code> scope may call it too.",
		"createDelegation":           "Any valid credential, of any scope",
		"putNotificationPreferences": "Any valid credential, of any scope",
		"getHealth":                  "Public: no API key needed.",
	} {
		start := strings.Index(page, `id="op-`+id+`"`)
		if start < 0 {
			t.Errorf("no section op-%s", id)
			continue
		}
		section := page[start:]
		if end := strings.Index(section[1:], `<section class="op"`); end > 0 {
			section = section[:end+1]
		}
		if !strings.Contains(section, want) {
			t.Errorf("op-%s does not say %q", id, want)
		}
	}
	// The CR8TOR routes have their own credential, not the API's.
	if i := strings.Index(page, `id="op-cr8torValidate"`); i < 0 || strings.Contains(page[i:i+strings.Index(page[i:], "</section>")], "Any valid credential") {
		t.Error("op-cr8torValidate is missing or claims the API's bearer credential")
	}
}
