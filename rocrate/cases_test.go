package rocrate

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/piprate/json-gold/ld"

	"approvald/approval"
	"approvald/gateway"
	"approvald/receipt"
)

func TestBuild_WithoutReviews(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	r.Reviews = nil
	r.Reason = "every dependency approved"
	rec := build(t, input(t, r))
	for id := range rec.nodes {
		if strings.HasPrefix(id, "#review-") {
			t.Errorf("a record without reviews has %s", id)
		}
	}
	mentions := values(rec.node(t, "./"), schema+"mentions")
	if strings.Join(mentions, " ") != "#run #decision #receipt" {
		t.Errorf("mentions %v", mentions)
	}
	d := rec.node(t, "#decision")
	if value(t, d, schema+"endTime") != timestamp(*r.DecidedAt) || !strings.Contains(value(t, d, schema+"description"), r.Reason) {
		t.Errorf("decision %v", d)
	}
}

func TestBuild_RevokedRecordsTheRevocation(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	at := r.DecidedAt.Add(24 * time.Hour)
	r.Status = approval.StatusRevoked
	r.Revocation = &approval.Revocation{By: "user:dpo", At: at, Reason: "a small cell was found in concept.csv"}
	rec := build(t, input(t, r))

	root := rec.node(t, "./")
	if value(t, root, schema+"creativeWorkStatus") != "Revoked" {
		t.Errorf("root status %v", root[schema+"creativeWorkStatus"])
	}
	if !strings.Contains(strings.Join(values(root, schema+"mentions"), " "), "#revocation") {
		t.Error("the root does not mention the revocation")
	}
	rv := rec.node(t, "#revocation")
	if !hasType(rv, schema+"UpdateAction") || value(t, rv, schema+"endTime") != timestamp(at) ||
		value(t, rv, schema+"description") != r.Revocation.Reason {
		t.Errorf("revocation %v", rv)
	}
	if agent := rec.node(t, value(t, rv, schema+"agent")); value(t, agent, schema+"name") != "user:dpo" {
		t.Errorf("revoked by %v", agent)
	}
	// The decision was an approval: it stays completed, the revocation is on top.
	if value(t, rec.node(t, "#decision"), schema+"actionStatus") != schema+"CompletedActionStatus" {
		t.Error("a revoked approval's decision is not completed")
	}
}

func TestBuild_RejectedIsFailed(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	r.Status = approval.StatusRejected
	r.Reviews[2].Decision = approval.DecisionReject
	in := input(t, r)
	in.Files = nil
	rec := build(t, in)
	if value(t, rec.node(t, "#decision"), schema+"actionStatus") != schema+"FailedActionStatus" {
		t.Error("a rejection is not a failed disclosure check")
	}
	if value(t, rec.node(t, "#review-3"), schema+"actionStatus") != schema+"FailedActionStatus" {
		t.Error("a rejecting review is not a failed check")
	}
	if _, ok := rec.node(t, "#decision")[schema+"result"]; ok {
		t.Error("a rejection has the publication as its result")
	}
	if got := value(t, rec.node(t, "./"), schema+"creativeWorkStatus"); got != "Not approved (rejected)" {
		t.Errorf("status %q", got)
	}
}

func TestBuild_FilePathsAreValidRelativeIDs(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	in := input(t, r)
	paths := map[string]string{
		"out/my results.csv":   "out/my%20results.csv",
		"out/données/été.csv":  "out/données/été.csv",
		"out/a#1.csv":          "out/a%231.csv",
		"out/50%.csv":          "out/50%25.csv",
		"out/q?x=1.json":       "out/q%3Fx=1.json",
		"/abs/file.txt":        "abs/file.txt",
		"../../etc/passwd":     "%2E%2E/%2E%2E/etc/passwd",
		"c:/tmp/x.csv":         "c%3A/tmp/x.csv",
		`win\path.csv`:         "win%5Cpath.csv",
		"a//b/./c.csv":         "a/b/%2E/c.csv",
		"tab\there\u200b.csv":  "tab%09here%E2%80%8B.csv",
		"emoji 🙂.csv":          "emoji%20🙂.csv",
		"quote\"<x>.csv":       "quote%22%3Cx%3E.csv",
		"bad\xffutf8.csv":      "bad%FFutf8.csv",
		"out/my results.csv/":  "out/my%20results.csv#dup",
		"/":                    "",
		"data/outputs/x.CSV":   "data/outputs/x.CSV",
		"semi;colon,plus+.tsv": "semi;colon,plus+.tsv",
		"@foo":                 "%40foo", // not a keyword-form @id
		"@type":                "%40type",
		"out/@v2.csv":          "out/@v2.csv",
	}
	in.Files = nil
	for p := range paths {
		in.Files = append(in.Files, gateway.PublishedFile{Path: p, SHA512: sha512Hex(p)})
	}
	rec := build(t, in)
	hasPart := values(rec.node(t, "./"), schema+"hasPart")
	if len(hasPart) != len(paths) {
		t.Fatalf("hasPart has %d files, want %d", len(hasPart), len(paths))
	}
	for i, f := range in.Files {
		id := hasPart[i]
		want := paths[f.Path]
		switch want {
		case "", "out/my%20results.csv#dup":
			// The same @id as another file, or none: listed by index.
			if id != "#published-file-"+itoa(i+1) && id != "out/my%20results.csv" {
				t.Errorf("%q: @id %q", f.Path, id)
			}
		default:
			if id != want && id != "#published-file-"+itoa(i+1) {
				t.Errorf("%q: @id %q, want %q", f.Path, id, want)
			}
		}
		n := rec.node(t, id)
		// JSON carries text: invalid UTF-8 in a path reads as U+FFFD.
		if value(t, n, schema+"name") != strings.ToValidUTF8(f.Path, "\uFFFD") {
			t.Errorf("%q: name %q", f.Path, value(t, n, schema+"name"))
		}
		sum := rec.node(t, value(t, n, spdxNS+"checksum"))
		if value(t, sum, spdxNS+"checksumValue") != f.SHA512 {
			t.Errorf("%q: wrong checksum", f.Path)
		}
		// Every @id is a URI reference that resolves inside the crate root.
		u, err := url.Parse(id)
		if err != nil {
			t.Errorf("%q: @id %q is not a URI reference: %v", f.Path, id, err)
			continue
		}
		if u.Scheme != "" || u.Host != "" {
			t.Errorf("%q: @id %q is not relative", f.Path, id)
		}
		root, _ := url.Parse("https://example.org/crate/")
		if got := root.ResolveReference(u).String(); !strings.HasPrefix(got, "https://example.org/crate/") {
			t.Errorf("%q: @id %q resolves outside the root: %s", f.Path, id, got)
		}
	}
	if got := value(t, rec.node(t, "data/outputs/x.CSV"), schema+"encodingFormat"); got != "text/csv" {
		t.Errorf("upper-case extension: %s", got)
	}
}

func TestBuild_BaseURL(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	in := input(t, r)

	relative := build(t, in)
	for _, id := range []string{"#approval-request", "#receipt", "#approvald"} {
		relative.node(t, id)
	}
	for id := range relative.nodes {
		if strings.Contains(id, "approvals.example") {
			t.Errorf("a record without a base URL names %s", id)
		}
	}

	in.BaseURL = "https://approvals.example/"
	absolute := build(t, in)
	req := absolute.node(t, "https://approvals.example/v1/approvals/req-7")
	if value(t, req, schema+"identifier") != "req-7" {
		t.Errorf("request %v", req)
	}
	rc := absolute.node(t, "https://approvals.example/v1/approvals/req-7/receipt")
	if value(t, rc, schema+"contentUrl") != "https://approvals.example/v1/approvals/req-7/receipt" {
		t.Errorf("receipt %v", rc)
	}
	absolute.node(t, "https://approvals.example/")
	if value(t, absolute.node(t, "#receipt-keyid-1"), schema+"url") != "https://approvals.example/.well-known/approvald/keys" {
		t.Error("the keyid does not point at the JWKS")
	}
	// The files and the root stay relative to the crate.
	absolute.node(t, "./")
	absolute.node(t, "data/outputs/public/concept.csv")

	// An id with characters a path segment cannot hold is escaped.
	r2 := approvedRequest()
	r2.ID = "req/7 x"
	in2 := input(t, r2)
	in2.BaseURL = "http://localhost:8080"
	build(t, in2).node(t, "http://localhost:8080/v1/approvals/req%2F7%20x")
}

func TestBuild_ReceiptIsCarried(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	in := input(t, r)
	rec := build(t, in)
	rc := rec.node(t, "#receipt")
	var env receipt.Envelope
	if err := json.Unmarshal([]byte(value(t, rc, schema+"text")), &env); err != nil {
		t.Fatalf("the receipt's text is not an envelope: %v", err)
	}
	if env.Payload != in.Receipt.Payload || len(env.Signatures) != 1 || env.Signatures[0] != in.Receipt.Signatures[0] {
		t.Errorf("the record carries another envelope: %+v", env)
	}
	// The carried receipt still verifies.
	keys, err := receipt.NewKeySet(signer(t, "approvald-2026").PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Verify(env); err != nil {
		t.Errorf("the carried receipt does not verify: %v", err)
	}
	if got := values(rc, schema+"encodingFormat"); len(got) != 2 || got[0] != "application/json" || got[1] != dsseEnvelopeSpec {
		t.Errorf("encodingFormat %v", got)
	}
	kid := rec.node(t, value(t, rc, schema+"additionalProperty"))
	if value(t, kid, schema+"value") != "approvald-2026" || value(t, kid, schema+"propertyID") != "keyid" {
		t.Errorf("keyid %v", kid)
	}
	// The policy carries the digest the receipt's predicate records.
	st, _, err := statementOf(in.Receipt, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	policy := rec.node(t, value(t, rec.node(t, "#decision"), schema+"instrument"))
	sum := rec.node(t, value(t, policy, spdxNS+"checksum"))
	if value(t, sum, spdxNS+"checksumValue") != st.Predicate.PolicySHA256 || value(t, policy, schema+"text") != string(st.Predicate.Policy) {
		t.Errorf("policy %v, checksum %v", policy, sum)
	}
}

func TestBuild_FilesTheReceiptCoversAreItsSubjects(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	files := publishedFiles()
	// The receipt has a subject of the first file's digest only.
	r.Items = []approval.Item{{ID: "concept", Name: files[0].Path, Size: 1234, Digest: "sha512:" + files[0].SHA512}}
	in := input(t, r)
	rec := build(t, in)
	if got := values(rec.node(t, fileID(files[0].Path)), schema+"subjectOf"); len(got) != 1 || got[0] != "#receipt" {
		t.Errorf("the covered file is the subject of %v", got)
	}
	if got := values(rec.node(t, fileID(files[1].Path)), schema+"subjectOf"); len(got) != 0 {
		t.Errorf("a file the receipt does not cover is the subject of %v", got)
	}
}

func TestBuild_WithoutReceipt(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	in := input(t, r)
	in.Receipt = receipt.Envelope{}
	rec := build(t, in)
	if _, ok := rec.nodes["#receipt"]; ok {
		t.Error("a record without a receipt has one")
	}
	policy := rec.node(t, "#policy")
	if _, ok := policy[spdxNS+"checksum"]; ok {
		t.Error("a policy digest without a receipt")
	}
	if value(t, policy, schema+"identifier") != r.PolicySource {
		t.Errorf("policy %v", policy)
	}
}

func TestBuild_StartTime(t *testing.T) {
	t.Parallel()
	for start, isDate := range map[string]bool{
		"20250205_010101":           false,
		"2025-02-05T01:01:01Z":      true,
		"2025-02-05T01:01:01+01:00": true,
		"2025-02-05T01:01:01.5":     true,
		"yesterday":                 false,
	} {
		in := input(t, approvedRequest())
		in.Run.StartTime = start
		run := build(t, in).node(t, "#run")
		if value(t, run, schema+"identifier") != start {
			t.Errorf("%s: identifier %v", start, run[schema+"identifier"])
		}
		_, has := run[schema+"startTime"]
		if has != isDate || (has && value(t, run, schema+"startTime") != start) {
			t.Errorf("%s: startTime %v", start, run[schema+"startTime"])
		}
	}
}

func TestBuild_HostileTextStaysData(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	r.Title = `"},{"@id":"./","name":"forged`
	r.Reviews[1].Reviewer = "user:<script>alert(1)</script> \"x\"#@"
	r.Reviews[1].Comment = "@context\n\"@graph\": []\u0000"
	in := input(t, r)
	in.Run.ProjectName = "@id"
	rec := build(t, in)
	if value(t, rec.node(t, "#approval-request"), schema+"name") != r.Title {
		t.Error("the title changed")
	}
	rv := rec.node(t, "#review-2")
	if value(t, rec.node(t, value(t, rv, schema+"agent")), schema+"name") != r.Reviews[1].Reviewer {
		t.Error("the reviewer changed")
	}
	if value(t, rec.node(t, "#review-2-result"), schema+"reviewBody") != r.Reviews[1].Comment {
		t.Error("the comment changed")
	}
	if value(t, rec.node(t, "#project"), schema+"name") != "@id" {
		t.Error("the project name changed")
	}
}

func TestBuild_Errors(t *testing.T) {
	t.Parallel()
	pending := approvedRequest()
	pending.Status = approval.StatusPending
	other := approvedRequest()
	other.ID = "req-8"
	cases := map[string]func(in *Input){
		"no request":        func(in *Input) { in.Request = nil },
		"pending":           func(in *Input) { in.Request = pending },
		"no project":        func(in *Input) { in.Run.ProjectName = " " },
		"relative base":     func(in *Input) { in.BaseURL = "approvals.example" },
		"base with query":   func(in *Input) { in.BaseURL = "https://a.example/?x=1" },
		"ftp base":          func(in *Input) { in.BaseURL = "ftp://a.example" },
		"short sha512":      func(in *Input) { in.Files[1].SHA512 = "abcd" },
		"upper-case sha512": func(in *Input) { in.Files[0].SHA512 = strings.ToUpper(in.Files[0].SHA512) },
		"another request's receipt": func(in *Input) {
			in.Receipt = sign(t, other)
		},
		"payload type": func(in *Input) { in.Receipt.PayloadType = "application/json" },
		"payload":      func(in *Input) { in.Receipt.Payload = "%%%" },
		"not a statement": func(in *Input) {
			in.Receipt.Payload = "bm90IGpzb24="
		},
		"unsigned": func(in *Input) { in.Receipt.Signatures = nil },
	}
	for name, mutate := range cases {
		in := input(t, approvedRequest())
		mutate(&in)
		doc, err := Build(in)
		if err == nil {
			t.Errorf("%s: Build succeeded:\n%s", name, doc)
		} else if !strings.HasPrefix(err.Error(), "rocrate: ") {
			t.Errorf("%s: error %q", name, err)
		}
	}
}

func TestExpand_NeverLoadsAnotherContext(t *testing.T) {
	t.Parallel()
	for _, ctx := range []string{
		`"https://w3id.org/ro/crate/1.2/context"`,
		`"http://w3id.org/ro/crate/1.1/context"`,
		`"https://example.org/evil"`,
		`["https://w3id.org/ro/crate/1.1/context", "file:///etc/passwd"]`,
	} {
		doc := `{"@context": ` + ctx + `, "@graph": [{"@id": "./", "@type": "Dataset"}]}`
		if _, err := Expand([]byte(doc)); err == nil || !strings.Contains(err.Error(), "offline") {
			t.Errorf("%s: Expand: %v, want the offline loader's refusal", ctx, err)
		}
	}
	if _, err := Expand([]byte(`{"@context": "https://w3id.org/ro/crate/1.1/context"`)); err == nil {
		t.Error("Expand accepted a document that is not JSON")
	}
}

// expandUnsafe expands doc with the offline loader but without safe mode,
// as a lenient processor would, to show what droppedTerms catches.
func expandUnsafe(t *testing.T, doc []byte) []any { return expandWith(t, doc, ld.JsonLd_1_1, false) }

func TestExpand_AnUndefinedTermIsCaught(t *testing.T) {
	t.Parallel()
	doc, err := Build(input(t, approvedRequest()))
	if err != nil {
		t.Fatal(err)
	}
	// An undefined property: Expand refuses it, and a lenient expansion
	// that drops it is caught by the comparison of terms.
	withProperty := bytes.Replace(doc, []byte(`"@type": "Project",`), []byte(`"@type": "Project", "sha512": "00",`), 1)
	if _, err := Expand(withProperty); err == nil {
		t.Error("Expand kept quiet about an undefined term")
	}
	var compact map[string]any
	if err := json.Unmarshal(withProperty, &compact); err != nil {
		t.Fatal(err)
	}
	if dropped := droppedTerms(compact, expandUnsafe(t, withProperty)); len(dropped) != 1 || !strings.Contains(dropped[0], "sha512") {
		t.Errorf("dropped %v, want sha512", dropped)
	}
	// An undefined type expands to no absolute IRI.
	withType := bytes.Replace(doc, []byte(`"@type": "Project",`), []byte(`"@type": ["Project", "TrustedResearchEnvironment"],`), 1)
	exp, err := Expand(withType)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(withType, &compact); err != nil {
		t.Fatal(err)
	}
	if dropped := droppedTerms(compact, exp); len(dropped) != 1 || !strings.Contains(dropped[0], "TrustedResearchEnvironment") {
		t.Errorf("dropped %v, want the undefined type", dropped)
	}
	// Without the record's own context, its SPDX and Profile terms do not
	// expand to the IRIs they name ("spdx:checksum" is then an IRI of the
	// scheme spdx, "Profile" a relative one).
	var withoutLocal map[string]any
	if err := json.Unmarshal(doc, &withoutLocal); err != nil {
		t.Fatal(err)
	}
	withoutLocal["@context"] = ContextURL
	bare, _ := json.Marshal(withoutLocal)
	exp, err = Expand(bare)
	if err != nil {
		t.Fatal(err)
	}
	dropped := strings.Join(droppedTerms(withoutLocal, exp), "\n")
	for _, term := range []string{"spdx:checksum", "spdx:Checksum", "Profile"} {
		if !strings.Contains(dropped, term) {
			t.Errorf("without the record's context, %s is not reported:\n%s", term, dropped)
		}
	}
}

func TestContext_IsTheROCrate11Context(t *testing.T) {
	t.Parallel()
	var c struct {
		ID      string            `json:"@id"`
		Version string            `json:"version"`
		Context map[string]string `json:"@context"`
	}
	if err := json.Unmarshal(Context(), &c); err != nil {
		t.Fatal(err)
	}
	if c.ID != ContextURL || c.Version != "1.1.3" || c.Context["File"] != schema+"MediaObject" ||
		c.Context["conformsTo"] != "http://purl.org/dc/terms/conformsTo" || c.Context["AssessAction"] != schema+"AssessAction" {
		t.Errorf("the shipped context is %s version %s", c.ID, c.Version)
	}
	for term := range localContext {
		if _, ok := c.Context[term]; ok {
			t.Errorf("the record's own context redefines %s", term)
		}
	}
}

func FuzzFileID(f *testing.F) {
	for _, s := range []string{"a/b.csv", "../x", "/", "a b#c?d%e", "é/..", "c:/x", "\xff", "@foo", "/@context"} {
		f.Add(s)
	}
	root, _ := url.Parse("https://example.org/crate/")
	f.Fuzz(func(t *testing.T, p string) {
		id := fileID(p)
		if id == "" {
			return
		}
		u, err := url.Parse(id)
		if err != nil {
			t.Fatalf("%q → %q is not a URI reference: %v", p, id, err)
		}
		if strings.HasPrefix(id, "@") {
			t.Fatalf("%q → %q looks like a JSON-LD keyword", p, id)
		}
		if u.Scheme != "" || u.Host != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasPrefix(id, "/") {
			t.Fatalf("%q → %q is not a relative path", p, id)
		}
		if got := root.ResolveReference(u).String(); !strings.HasPrefix(got, "https://example.org/crate/") {
			t.Fatalf("%q → %q resolves outside the root: %s", p, id, got)
		}
	})
}
