package rocrate

import (
	"strconv"
	"strings"
	"testing"
)

func TestBuild_ExpandsOfflineWithEveryFileReviewProjectAndRun(t *testing.T) {
	t.Parallel()
	r := approvedRequest()
	in := input(t, r)
	rec := build(t, in)
	t.Logf("%s", rec.doc)

	root := rec.node(t, "./")
	if !hasType(root, schema+"Dataset") {
		t.Errorf("root types %v", types(root))
	}
	parts := values(root, schema+"hasPart")
	for i, f := range in.Files {
		id := fileID(f.Path)
		n := rec.node(t, id)
		if !hasType(n, schema+"MediaObject") {
			t.Errorf("file %s types %v", id, types(n))
		}
		if parts[i] != id {
			t.Errorf("hasPart[%d] = %s, want %s", i, parts[i], id)
		}
		sum := rec.node(t, value(t, n, spdxNS+"checksum"))
		if got := value(t, sum, spdxNS+"checksumValue"); got != f.SHA512 {
			t.Errorf("file %s SHA-512 %s, want %s", id, got, f.SHA512)
		}
		if got := value(t, sum, spdxNS+"algorithm"); got != spdxNS+"checksumAlgorithm_sha512" {
			t.Errorf("file %s checksum algorithm %s", id, got)
		}
		if f.Bytes != nil {
			if got := value(t, n, schema+"contentSize"); got != strconv.FormatInt(*f.Bytes, 10) {
				t.Errorf("file %s contentSize %s, want %d", id, got, *f.Bytes)
			}
		} else if _, ok := n[schema+"contentSize"]; ok {
			t.Errorf("file %s has a contentSize without a size", id)
		}
	}
	if got := value(t, rec.node(t, "data/outputs/public/concept.csv"), schema+"encodingFormat"); got != "text/csv" {
		t.Errorf("csv encodingFormat %s", got)
	}
	if _, ok := rec.node(t, "data/outputs/README")[schema+"encodingFormat"]; ok {
		t.Error("a file without a known extension has an encodingFormat")
	}

	for i, rv := range r.Reviews {
		n := rec.node(t, "#review-"+itoa(i+1))
		if !hasType(n, schema+"AssessAction") {
			t.Errorf("review %d types %v", i+1, types(n))
		}
		performer := rv.Reviewer
		if rv.By != "" {
			performer = rv.By
			if p := rec.node(t, value(t, n, schema+"participant")); value(t, p, schema+"name") != rv.Reviewer {
				t.Errorf("review %d participant %v", i+1, p)
			}
		}
		agent := rec.node(t, value(t, n, schema+"agent"))
		if value(t, agent, schema+"name") != performer || !hasType(agent, schema+"Person") {
			t.Errorf("review %d agent %v, want the person %s", i+1, agent, performer)
		}
		want := timestamp(rv.At)
		if value(t, n, schema+"endTime") != want || value(t, n, schema+"startTime") != want {
			t.Errorf("review %d times %v %v, want %s", i+1, n[schema+"startTime"], n[schema+"endTime"], want)
		}
		if value(t, n, schema+"actionStatus") != schema+"CompletedActionStatus" {
			t.Errorf("review %d status %v", i+1, n[schema+"actionStatus"])
		}
		if value(t, n, schema+"additionalType") != shpDisclosureCheck {
			t.Errorf("review %d additionalType %v", i+1, n[schema+"additionalType"])
		}
		objects := values(n, schema+"object")
		if len(objects) != 2 || objects[0] != "./" || value(t, rec.node(t, objects[1]), schema+"version") != itoa(int(rv.Version)) {
			t.Errorf("review %d object %v, want the root and version %d", i+1, objects, rv.Version)
		}
		result := rec.node(t, value(t, n, schema+"result"))
		if value(t, result, schema+"name") != string(rv.Decision) {
			t.Errorf("review %d result %v", i+1, result)
		}
		if rv.Comment != "" && value(t, result, schema+"reviewBody") != rv.Comment {
			t.Errorf("review %d comment %v", i+1, result)
		}
		_, described := n[schema+"description"]
		if described != rv.Void {
			t.Errorf("review %d: void %v but described %v", i+1, rv.Void, described)
		}
	}

	project := rec.node(t, value(t, root, schema+"sourceOrganization"))
	if !hasType(project, schema+"Project") || value(t, project, schema+"name") != "demo" {
		t.Errorf("project %v", project)
	}
	run := rec.node(t, "#run")
	if !hasType(run, schema+"CreateAction") || value(t, run, schema+"identifier") != "20250205_010101" {
		t.Errorf("run %v", run)
	}
	if _, ok := run[schema+"startTime"]; ok {
		t.Error("the run has a startTime made of 20250205_010101, which is no ISO 8601 date-time")
	}
	if got := values(run, schema+"result"); len(got) != len(in.Files) {
		t.Errorf("run results %v", got)
	}
	mentions := strings.Join(values(root, schema+"mentions"), " ")
	for _, id := range []string{"#run", "#decision", "#review-1", "#review-2", "#review-3", "#receipt"} {
		if !strings.Contains(mentions+" ", id+" ") {
			t.Errorf("root mentions %s, not %s", mentions, id)
		}
	}

	descriptor := rec.node(t, "ro-crate-metadata.json")
	if got := values(descriptor, "http://purl.org/dc/terms/conformsTo"); len(got) != 2 || got[0] != SpecURL || got[1] != ProfileURL {
		t.Errorf("descriptor conformsTo %v", got)
	}
	if value(t, root, "http://purl.org/dc/terms/conformsTo") != ProfileURL {
		t.Errorf("root conformsTo %v", root["http://purl.org/dc/terms/conformsTo"])
	}
	if value(t, root, schema+"datePublished") != timestamp(*r.DecidedAt) || value(t, root, schema+"creativeWorkStatus") != "Published" {
		t.Errorf("root %v", root)
	}
	if !hasType(rec.node(t, ProfileURL), "http://www.w3.org/ns/dx/prof/Profile") {
		t.Errorf("profile types %v", types(rec.node(t, ProfileURL)))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
