package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"approvald/approval"
	"approvald/receipt"
	"approvald/rocrate"
)

// receiptKeyPEM returns a PKCS#8 Ed25519 PRIVATE KEY block made from seed.
func receiptKeyPEM(t *testing.T, seed byte) string {
	t.Helper()
	k := ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('A'+seed)), ed25519.SeedSize)))
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// get returns the body of GET path, failing unless the answer is 200.
func get(t *testing.T, base, path, key string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return b
}

func TestConfig_ReceiptKeysAreCheckedWithoutShowingThem(t *testing.T) {
	t.Parallel()
	good := receiptKeyPEM(t, 1)
	if _, err := parseConfig(nil, envOf(map[string]string{"APPROVALD_RECEIPT_KEYS": good}), io.Discard); err != nil {
		t.Fatalf("a PKCS#8 Ed25519 key: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(good), "\n")
	publicOnly := strings.ReplaceAll(good, "PRIVATE KEY", "PUBLIC KEY")
	for name, value := range map[string]string{
		"not PEM":           "ed25519-seed-0123456789abcdef",
		"a mangled key":     lines[0] + "\n" + lines[1][:16] + "\n" + lines[len(lines)-1] + "\n",
		"no private key":    publicOnly,
		"another block too": good + "-----BEGIN CERTIFICATE-----\nQUJDRA==\n-----END CERTIFICATE-----\n",
	} {
		_, err := parseConfig(nil, envOf(map[string]string{"APPROVALD_RECEIPT_KEYS": value}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "APPROVALD_RECEIPT_KEYS") {
			t.Errorf("%s: err = %v, want one naming APPROVALD_RECEIPT_KEYS", name, err)
			continue
		}
		for _, l := range append(lines[1:len(lines)-1], "ed25519-seed-0123456789abcdef") {
			if len(l) >= 8 && strings.Contains(err.Error(), l[:8]) {
				t.Errorf("%s: the error shows the key: %v", name, err)
			}
		}
	}
	// The secret file serves as well as the variable.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, receiptKeysFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseConfig(nil, envOf(map[string]string{"SECRETS_MNT_PATH": dir}), io.Discard); err == nil || !strings.Contains(err.Error(), "APPROVALD_RECEIPT_KEYS") {
		t.Errorf("a bad secret file receipt-keys: %v", err)
	}
}

func TestRun_ReceiptKeyMadeAtStartIsWarnedAboutAndServed(t *testing.T) {
	t.Parallel()
	base, logs, stop := startServerLogs(t, nil)
	jwks := get(t, base, "/.well-known/approvald/keys", "")
	stop()
	ks, err := receipt.ParseJWKS(jwks)
	if err != nil || len(ks.Keys()) != 1 {
		t.Fatalf("the JWKS of a key made at start: %v %s", err, jwks)
	}
	if !strings.Contains(logs.String(), "set APPROVALD_RECEIPT_KEYS: receipts are signed with a key made at start") {
		t.Errorf("no warning about the receipt key made at start:\n%s", logs)
	}
}

// TestRun_PublicationReceiptNamesThePublishedFiles: the CR8TOR flow
// through the binary with configured keys; the receipt after publishing
// names the published file with the SHA-512 the Publish service reported,
// and verifies against the JWKS of the well-known URL.
func TestRun_PublicationReceiptNamesThePublishedFiles(t *testing.T) {
	t.Parallel()
	publish := newFakePublish(t)
	env := gatewayEnv(t, publish, true)
	env["APPROVALD_RECEIPT_KEYS"] = receiptKeyPEM(t, 2)
	base, logs, _ := startServerLogs(t, env)
	if strings.Contains(logs.String(), "set APPROVALD_RECEIPT_KEYS") {
		t.Error("warned about a key made at start although keys are configured")
	}
	pkg, pub := contractBody(t, "package.request.json"), contractBody(t, "publish.request.json")
	if status, out := cr8tor(t, base, "/project/package", "cli-key-for-tests", pkg); status != 200 {
		t.Fatalf("package: %d %v", status, out)
	}
	admin := client{t: t, base: base, key: testAdminKey}
	var page struct{ Items []struct{ ID string } }
	admin.expect(200, "GET", "/v1/approvals?status=pending", nil, &page)
	if len(page.Items) != 1 {
		t.Fatalf("pending requests: %+v", page.Items)
	}
	id := page.Items[0].ID
	var key struct{ Key string }
	admin.expect(201, "POST", "/v1/api-keys", map[string]any{"name": "steward", "scopes": []string{"approvals:review", "approvals:read"}}, &key)
	client{t: t, base: base, key: key.Key}.expect(200, "POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": "approve"}, nil)

	ks, err := receipt.ParseJWKS(get(t, base, "/.well-known/approvald/keys", ""))
	if err != nil {
		t.Fatal(err)
	}
	verify := func() receipt.Statement {
		t.Helper()
		var env receipt.Envelope
		if err := json.Unmarshal(get(t, base, "/v1/approvals/"+id+"/receipt", key.Key), &env); err != nil {
			t.Fatal(err)
		}
		st, err := ks.Verify(env)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return st
	}
	before := verify()
	steward := client{t: t, base: base, key: key.Key}
	steward.expect(409, "GET", "/v1/approvals/"+id+"/release-record", nil, nil) // nothing published yet
	if status, out := cr8tor(t, base, "/project/publish", "cli-key-for-tests", pub); status != 200 {
		t.Fatalf("publish: %d %v", status, out)
	}
	after := verify()
	const path, sum = "data/outputs/public/concept.csv", "6ed6e817fb78953648324b0b9e44711bb55aa790e22e2353e8af6eae1f182bfdf10f88fc0e1a33c389cc3b73346dc513fde3fda594e3725ad1a3b568a55ff41c"
	last := after.Subject[len(after.Subject)-1]
	if last.Name != path || last.Digest["sha512"] != sum {
		t.Errorf("subjects after publishing: %+v, want the published file last", after.Subject)
	}
	// The release record: an RO-Crate that expands offline with the
	// shipped context and names the published file and the review.
	record := get(t, base, "/v1/approvals/"+id+"/release-record", key.Key)
	expanded, err := rocrate.Expand(record)
	if err != nil {
		t.Fatalf("the release record does not expand: %v\n%s", err, record)
	}
	flat, _ := json.Marshal(expanded)
	for _, want := range []string{path, sum, "AssessAction", id} {
		if !strings.Contains(string(flat), want) {
			t.Errorf("the expanded release record does not name %q:\n%s", want, record)
		}
	}
	if len(after.Subject) != len(before.Subject)+1 || after.Predicate.Version <= before.Predicate.Version ||
		before.Predicate.Decision != "approved" || after.Predicate.Decision != "approved" {
		t.Errorf("before publishing: %d subjects, version %d, %s; after: %d subjects, version %d, %s",
			len(before.Subject), before.Predicate.Version, before.Predicate.Decision, len(after.Subject), after.Predicate.Version, after.Predicate.Decision)
	}
}

func TestPublishedSubjects_OnlyForPublicationsWithWellFormedHashes(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("ab", 64)
	outcome := `{"published":{"data_published":[{"file_path":"out/a.csv","hash_value":"` + strings.ToUpper(sum) + `","total_bytes":3},{"file_path":"out/b.csv","hash_value":"md5:nope"},{"hash_value":"` + sum + `"}]}}`
	r := &approval.Request{Subject: "cr8tor:proj/20261201_093000", Outcome: json.RawMessage(outcome)}
	got := publishedSubjects(r)
	if len(got) != 1 || got[0].Name != "out/a.csv" || got[0].Digest["sha512"] != sum || len(got[0].Digest) != 1 {
		t.Errorf("subjects %+v: want out/a.csv with its SHA-512 in lower case only", got)
	}
	r.Subject = "billing:invoice-7"
	if got := publishedSubjects(r); got != nil {
		t.Errorf("a request that is not a publication: %+v", got)
	}
	r.Subject, r.Outcome = "cr8tor:proj/20261201_093000", nil
	if got := publishedSubjects(r); got != nil {
		t.Errorf("a publication with nothing published yet: %+v", got)
	}
}
