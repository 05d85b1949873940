package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes b to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tamper rewrites the statement of the receipt JSON b with edit, keeping
// the signature.
func tamper(t *testing.T, b []byte, edit func(st map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	raw, _ = json.Marshal(st)
	env["payload"] = base64.StdEncoding.EncodeToString(raw)
	out, _ := json.Marshal(env)
	return out
}

func TestCLI_ReceiptGetAndVerify(t *testing.T) {
	t.Parallel()
	p := setup(t)
	dir := t.TempDir()
	id := p.create("--title", "Release outputs", "--payload", `{"run": 7, "files": ["a.csv"]}`)

	r := p.requester.run("receipt", "get", id)
	if r.code != 1 || !strings.Contains(r.stderr, "409 invalid_transition") || r.stdout != "" {
		t.Fatalf("the receipt of a pending request: %s", r)
	}
	p.reviewer.ok("approve", id, "--comment", "checked")

	// To standard output, and to a file with -o.
	printed := p.requester.ok("receipt", "get", id).stdout
	file := filepath.Join(dir, "receipt.json")
	if r := p.requester.ok("receipt", "get", id, "-o", file); r.stdout != "" || !strings.Contains(r.stderr, "wrote "+file) {
		t.Errorf("receipt get -o FILE: %s", r)
	}
	saved, err := os.ReadFile(file)
	if err != nil || string(saved) != printed {
		t.Fatalf("the file holds %q (%v), standard output had %q", saved, err, printed)
	}

	// Against the server's published keys (no token needed).
	anon := p.requester.with("APPROVALD_TOKEN", "")
	r = anon.ok("receipt", "verify", file)
	for _, want := range []string{"Verified:", "Request:", id, "Decision:", "approved", "Policy SHA-256:", "Reviews:", "approve by svc:reviewer", "checked", "Subjects:", "payload  sha256:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("receipt verify does not say %q:\n%s", want, r.stdout)
		}
	}

	// Offline, with the JWKS saved from the well-known URL.
	res, err := http.Get(shared.URL + "/.well-known/approvald/keys")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(res.Body)
	res.Body.Close()
	keys := writeFile(t, dir, "keys.jwks", jwks)
	offline := p.requester.with("APPROVALD_URL", "", "APPROVALD_TOKEN", "")
	var out struct {
		Verified  bool   `json:"verified"`
		KeyID     string `json:"key_id"`
		Statement struct {
			Predicate struct {
				RequestID string `json:"request_id"`
				Decision  string `json:"decision"`
			} `json:"predicate"`
		} `json:"statement"`
	}
	offline.okJSON(&out, "receipt", "verify", file, "--key", keys)
	if !out.Verified || out.KeyID == "" || out.Statement.Predicate.RequestID != id || out.Statement.Predicate.Decision != "approved" {
		t.Errorf("receipt verify -o json: %+v", out)
	}
	if r := offline.input(printed).ok("receipt", "verify", "-", "--key", keys, "-o", "name"); strings.TrimSpace(r.stdout) != id {
		t.Errorf("receipt verify - -o name: %q", r.stdout)
	}

	// The payload: the same JSON written otherwise matches; another does not.
	same := writeFile(t, dir, "same.json", []byte("{\"files\": [\"a.csv\"],\n \"run\": 7.0}"))
	if r := offline.ok("receipt", "verify", file, "--key", keys, "--payload", same); !strings.Contains(r.stdout, "matches the payload digest") {
		t.Errorf("--payload of the same JSON: %s", r)
	}
	other := writeFile(t, dir, "other.json", []byte(`{"run": 8, "files": ["a.csv"]}`))
	if r := offline.run("receipt", "verify", file, "--key", keys, "--payload", other); r.code != 1 || !strings.Contains(r.stderr, "the payload is not the one the receipt covers") || r.stdout != "" {
		t.Errorf("--payload of another JSON: %s", r)
	}

	// What a gate expects: this request, approved.
	offline.ok("receipt", "verify", file, "--key", keys, "--request", id, "--decision", "approved")
	if r := offline.run("receipt", "verify", file, "--key", keys, "--request", "0190a5f0-0000-7000-8000-000000000001"); r.code != 1 || !strings.Contains(r.stderr, "it is the receipt of request "+id) {
		t.Errorf("--request of another request: %s", r)
	}
	if r := offline.run("receipt", "verify", file, "--key", keys, "--decision", "rejected"); r.code != 1 || !strings.Contains(r.stderr, `it attests the decision "approved"`) {
		t.Errorf("--decision rejected of an approval: %s", r)
	}
	// One reading only: a second, case-variant payload member is refused.
	twoReadings := strings.Replace(string(saved), `"payload":`, `"PAYLOAD":"eyJ4Ijp0cnVlfQ==","payload":`, 1)
	if r := offline.run("receipt", "verify", writeFile(t, dir, "two.json", []byte(twoReadings)), "--key", keys); r.code != 1 || !strings.Contains(r.stderr, "not strict JSON") {
		t.Errorf("an envelope with two payload members: %s", r)
	}

	// Tampering: a changed byte, a removed review, another key.
	changed := writeFile(t, dir, "changed.json", tamper(t, saved, func(st map[string]any) {
		st["predicate"].(map[string]any)["decision"] = "rejected"
	}))
	dropped := writeFile(t, dir, "dropped.json", tamper(t, saved, func(st map[string]any) {
		st["predicate"].(map[string]any)["reviews"] = []any{}
	}))
	for _, f := range []string{changed, dropped} {
		if r := offline.run("receipt", "verify", f, "--key", keys); r.code != 1 || !strings.Contains(r.stderr, "signature does not verify") || !strings.Contains(r.stderr, "does not match the receipt's content") {
			t.Errorf("a tampered receipt %s: %s", filepath.Base(f), r)
		}
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	otherKey := writeFile(t, dir, "other.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if r := offline.run("receipt", "verify", file, "--key", otherKey); r.code != 1 || !strings.Contains(r.stderr, "signed by no known key") || !strings.Contains(r.stderr, out.KeyID) {
		t.Errorf("another key: %s", r)
	}

	// Neither keys nor a server; a file that is no receipt; bad keys.
	if r := offline.run("receipt", "verify", file); r.code != 1 || !strings.Contains(r.stderr, "no keys: give --key FILE") {
		t.Errorf("no keys: %s", r)
	}
	if r := offline.run("receipt", "verify", keys, "--key", keys); r.code != 1 || !strings.Contains(r.stderr, "the receipt is malformed") && !strings.Contains(r.stderr, "payloadType") {
		t.Errorf("a JWKS given as the receipt: %s", r)
	}
	if r := offline.run("receipt", "verify", file, "--key", same); r.code != 1 || !strings.Contains(r.stderr, "the keys of "+same) {
		t.Errorf("a key file that holds no key: %s", r)
	}
}

func TestCLI_ReleaseRecordOfAPlainRequestIsNotFound(t *testing.T) {
	t.Parallel()
	p := setup(t)
	id := p.create("--title", "Not a publication")
	p.reviewer.ok("approve", id)
	if r := p.requester.run("release-record", id, "-o", filepath.Join(t.TempDir(), "crate.json")); r.code != 1 || !strings.Contains(r.stderr, "404 not_found") {
		t.Errorf("release-record of a plain request: %s", r)
	}
}
