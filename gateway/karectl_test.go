package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"approvald/approval"
)

// The karectl fork of the CR8TOR CLI builds its bodies from LinkML YAML:
// project_start_time is ISO-8601 (UTC or with an offset), extract_config
// may be null, and a source may name its host without a port. Its bodies
// are written here as Python's json.dumps writes them (", " and ": ").
const (
	karectlStartUTC    = "2026-03-01T09:30:00Z"
	karectlStartOffset = "2026-03-01T09:30:00+01:00"
)

// karectlPackage returns a package (or validate) body of the fork for a
// run starting at start.
func karectlPackage(start string) []byte {
	return []byte(`{"project_name": "Pr004", "project_start_time": "` + start + `", ` +
		`"destination": {"type": "filestore", "name": "LSC", "format": "duckdb"}, ` +
		`"extract_config": null, ` +
		`"source": {"type": "postgresql", "host_url": "pg.example.internal", "database": "my_database", ` +
		`"credentials": {"provider": "AzureKeyVault", "username_key": "postgres-username-secret", "password_key": "postgres-password-secret"}}, ` +
		`"dataset": {"name": "dataset_1", "schema_name": "public", "description": null, ` +
		`"tables": [{"name": "concept", "columns": [{"name": "concept_code", "datatype": "string", "description": null}], "description": null}], ` +
		`"staging_path": null, "publish_path": null}}`)
}

// karectlDatabricks returns a package body of the fork whose Databricks
// source names its host without a port.
func karectlDatabricks(start string) []byte {
	return []byte(`{"project_name": "Pr004", "project_start_time": "` + start + `", ` +
		`"destination": {"type": "postgresql", "name": "", "format": "sql"}, "extract_config": null, ` +
		`"source": {"type": "databrickssql", "host_url": "adb-123.azuredatabricks.net", "http_path": "/sql/1.0/warehouses/abc", "catalog": "main", ` +
		`"credentials": {"provider": "AzureKeyVault", "spn_clientid": "spn-id-secret", "spn_secret": "spn-secret-secret"}}}`)
}

// karectlPublish returns a publish body of the fork.
func karectlPublish(start string) []byte {
	return []byte(`{"project_name": "Pr004", "project_start_time": "` + start + `", ` +
		`"destination": {"type": "filestore", "name": "LSC", "format": "duckdb"}}`)
}

func TestKarectl_BodiesAreForwardedByteForByteAndAnswersRelayed(t *testing.T) {
	t.Parallel()
	for _, start := range []string{karectlStartUTC, karectlStartOffset} {
		for name, body := range map[string][]byte{
			"postgresql without a port": karectlPackage(start),
			"databricks without a port": karectlDatabricks(start),
		} {
			t.Run(start+"/"+name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, nil)
				run := Run{"Pr004", start}

				status, got := postWithClientHeaders(t, b.url+RouteValidate, body)
				if status != http.StatusOK {
					t.Fatalf("validate: %d %s", status, got)
				}
				sameJSON(t, got, example(t, "validate.response.json"))
				pub, meta := b.pub.requests(), b.meta.requests()
				if len(pub) != 1 || len(meta) != 1 {
					t.Fatalf("validate: upstream calls: publish %d, metadata %d; want 1 each", len(pub), len(meta))
				}
				checkForwarded(t, pub[0], "/data-publish/validate", publishKey, body)
				checkForwarded(t, meta[0], "/metadata/project", metadataKey, body)
				if c := b.calls.next(t); c.Run != run || c.Status != http.StatusOK {
					t.Errorf("validate: recorded run %+v status %d, want %+v 200", c.Run, c.Status, run)
				}

				status, got = postWithClientHeaders(t, b.url+RoutePackage, body)
				if status != http.StatusOK {
					t.Fatalf("package: %d %s", status, got)
				}
				sameJSON(t, got, example(t, "package.response.json"))
				if pub = b.pub.requests(); len(pub) != 2 {
					t.Fatalf("package: the publish service got %d calls in all, want 2", len(pub))
				}
				checkForwarded(t, pub[1], "/data-publish/package", publishKey, body)
				if c := b.calls.next(t); c.Run != run {
					t.Errorf("package: recorded run %+v, want %+v", c.Run, run)
				}

				publish := karectlPublish(start)
				status, got = postWithClientHeaders(t, b.url+RoutePublish, publish)
				if status != http.StatusOK {
					t.Fatalf("publish: %d %s", status, got)
				}
				sameJSON(t, got, example(t, "publish.response.json"))
				if pub = b.pub.requests(); len(pub) != 3 {
					t.Fatalf("publish: the publish service got %d calls in all, want 3", len(pub))
				}
				checkForwarded(t, pub[2], "/data-publish/publish", publishKey, publish)
			})
		}
	}
}

func TestKarectl_ApprovalStepAcceptsISO8601Runs(t *testing.T) {
	for _, start := range []string{karectlStartUTC, karectlStartOffset} {
		t.Run(start, func(t *testing.T) {
			b := setupStep(t, nil)
			b.run = Run{"Pr004", start}
			body := karectlPackage(start)

			status, got := b.post(t, RoutePackage, clientKey, body)
			if status != http.StatusOK {
				t.Fatalf("package: %d %s", status, got)
			}
			rs, _, err := b.eng.List(b.ctx, approval.Filter{Subject: "cr8tor:Pr004/" + start, Limit: 1})
			if err != nil || len(rs) != 1 {
				t.Fatalf("the run's request under subject cr8tor:Pr004/%s: %v %v", start, rs, err)
			}
			r := rs[0]
			// The request's payload keeps the package body (compacted).
			var content struct{ Request json.RawMessage }
			if err := json.Unmarshal(r.Payload, &content); err != nil {
				t.Fatalf("the request's payload %s: %v", r.Payload, err)
			}
			sameJSON(t, content.Request, body)
			// Another representation of the same instant is another run,
			// as it is for the upstream (it names the staging folder).
			other := Run{"Pr004", "2026-03-01T08:30:00Z"}
			status, got = b.post(t, RoutePublish, clientKey, karectlPublish(other.StartTime))
			wantError(t, status, got, http.StatusForbidden,
				"There is no approval request for "+other.String()+": run package first, then have its approval request approved.")

			publish := karectlPublish(start)
			status, got = b.post(t, RoutePublish, clientKey, publish)
			wantError(t, status, got, http.StatusForbidden, NotApproved(b.run, r.ID, approval.StatusPending).Message)

			if got := b.review(t, r); got.Status != approval.StatusApproved {
				t.Fatalf("status after approving every file: %s", got.Status)
			}
			status, got = b.post(t, RoutePublish, clientKey, publish)
			if status != http.StatusOK {
				t.Fatalf("publish once approved: %d %s", status, got)
			}
			reqs := b.pub.requests()
			if len(reqs) != 2 {
				t.Fatalf("the publish service got %d calls, want the package and one publish", len(reqs))
			}
			checkForwarded(t, reqs[1], "/data-publish/publish", publishKey, publish)
		})
	}
}

// wantSuccess checks that body is the gateway's 200 envelope: an object
// whose status is "success" and which has a payload member, which the
// fork's client reads unconditionally. It returns the payload.
func wantSuccess(t *testing.T, status int, body []byte) json.RawMessage {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", status, body)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("the 200 body is not a JSON object (%v): %s", err, body)
	}
	if string(env["status"]) != `"success"` || env["payload"] == nil || len(env) != 2 {
		t.Errorf("the 200 body is %s, want exactly a status \"success\" and a payload", body)
	}
	return env["payload"]
}

func TestSuccess_EveryRouteAnswersAPayload(t *testing.T) {
	t.Parallel()
	step := &fakeStep{}
	for name, edit := range map[string]func(*Config, *Deps){
		"without an approval step": nil,
		"with an approval step":    func(c *Config, d *Deps) { c.Approval, d.Approval = ApprovalPublish, step },
	} {
		b := setup(t, edit)
		for _, c := range []struct {
			route   string
			body    []byte
			example string
		}{
			{RouteValidate, karectlPackage(karectlStartOffset), "validate.response.json"},
			{RoutePackage, karectlPackage(karectlStartOffset), "package.response.json"},
			{RoutePublish, karectlPublish(karectlStartOffset), "publish.response.json"},
		} {
			status, got := b.post(t, c.route, clientKey, c.body)
			payload := wantSuccess(t, status, got)
			sameJSON(t, payload, payloadOfExample(t, c.example))
			if t.Failed() {
				t.Fatalf("%s, %s", name, c.route)
			}
		}
	}
}

func TestWriteSuccess_WithoutAPayloadWritesAnEmptyObject(t *testing.T) {
	t.Parallel()
	for _, payload := range []json.RawMessage{nil, {}} {
		rec := httptest.NewRecorder()
		writeSuccess(rec, payload)
		if got := rec.Body.String(); got != `{"status":"success","payload":{}}` {
			t.Errorf("payload %q: body %s, want an empty payload object", payload, got)
		}
		if rec.Header().Get("Content-Length") != "33" {
			t.Errorf("payload %q: Content-Length %s, want 33", payload, rec.Header().Get("Content-Length"))
		}
	}
}

func TestSubject_ValidForEveryRunTheGatewayAccepts(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("p", approval.MaxSubjectLen)
	for _, tc := range []struct {
		run  Run
		want string // "" when too long to be readable
	}{
		{Run{"Pr004", "20250205_010101"}, "cr8tor:Pr004/20250205_010101"},
		{Run{"Pr004", karectlStartUTC}, "cr8tor:Pr004/2026-03-01T09:30:00Z"},
		{Run{"Pr004", karectlStartOffset}, "cr8tor:Pr004/2026-03-01T09:30:00+01:00"},
		{Run{"Pr004", "2026-03-01T09:30:00.123456-05:30"}, "cr8tor:Pr004/2026-03-01T09:30:00.123456-05:30"},
		{Run{long[:191], "1"}, "cr8tor:" + long[:191] + "/1"}, // 200 characters
		{Run{long, karectlStartOffset}, ""},
		{Run{long[:192], "1"}, ""},
		{Run{"Pr004", strings.Repeat("é", approval.MaxSubjectLen)}, ""},
	} {
		got := Subject(tc.run)
		var v approval.Validation
		approval.CheckLine(&v, "subject", got, approval.MaxSubjectLen, true)
		if err := v.Err(); err != nil {
			t.Errorf("Subject(%+v) = %q is not a valid subject: %v", tc.run, got, err)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("Subject(%+v) = %q, want %q", tc.run, got, tc.want)
		}
		if tc.want == "" && (!strings.HasPrefix(got, "cr8tor#") || !strings.HasSuffix(got, "…") ||
			utf8.RuneCountInString(got) != approval.MaxSubjectLen) {
			t.Errorf("Subject(%+v) = %q, want cr8tor#<digest>:… of %d characters", tc.run, got, approval.MaxSubjectLen)
		}
	}
	// Long runs that differ only beyond what is shown have subjects of
	// their own.
	a, b := Subject(Run{long, karectlStartUTC}), Subject(Run{long, karectlStartOffset})
	if a == b {
		t.Errorf("two runs share the subject %q", a)
	}
}

func TestKarectl_ApprovalStepAcceptsALongProjectNameWithAnISO8601Time(t *testing.T) {
	b := setupStep(t, nil)
	name := strings.Repeat("n", approval.MaxSubjectLen)
	b.run = Run{name, karectlStartOffset}
	body := bytes.Replace(karectlPackage(karectlStartOffset), []byte(`"Pr004"`), []byte(`"`+name+`"`), 1)
	publish := bytes.Replace(karectlPublish(karectlStartOffset), []byte(`"Pr004"`), []byte(`"`+name+`"`), 1)

	status, got := b.post(t, RoutePackage, clientKey, body)
	if status != http.StatusOK {
		t.Fatalf("package: %d %s", status, got)
	}
	rs, _, err := b.eng.List(b.ctx, approval.Filter{Subject: Subject(b.run), Limit: 1})
	if err != nil || len(rs) != 1 {
		t.Fatalf("the run's request: %v %v", rs, err)
	}
	b.review(t, rs[0])
	status, got = b.post(t, RoutePublish, clientKey, publish)
	wantSuccess(t, status, got)
	if reqs := b.pub.requests(); len(reqs) != 2 {
		t.Errorf("the publish service got %d calls, want the package and the publish", len(reqs))
	}
}

// TestSubject_OneSubjectPerRunWhateverTheSlashes: a '/' or '%' in a name
// or a time is escaped, so two runs never share a subject (one's approval
// must never let the other publish).
func TestSubject_OneSubjectPerRunWhateverTheSlashes(t *testing.T) {
	runs := []Run{{ProjectName: "a", StartTime: "b/c"}, {ProjectName: "a/b", StartTime: "c"},
		{ProjectName: "a%2Fb", StartTime: "c"}, {ProjectName: "a%", StartTime: "2Fb/c"}, {ProjectName: "ab", StartTime: "c"}}
	seen := map[string]Run{}
	for _, r := range runs {
		s := Subject(r)
		if other, ok := seen[s]; ok {
			t.Errorf("runs %+v and %+v share the subject %q", other, r, s)
		}
		seen[s] = r
	}
	if got := Subject(Run{ProjectName: "Pr004", StartTime: "20250101_000000"}); got != "cr8tor:Pr004/20250101_000000" {
		t.Errorf("a plain run's subject changed: %q", got)
	}
}
