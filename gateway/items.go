package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"approvald/approval"
)

// CodeRevoked is the code of the error Revoked returns.
const CodeRevoked = "revoked"

// stagedFile is one entry of the Publish service's data_retrieved (package)
// or data_published (publish) list. The package answer of the contract
// names only file_path; an upstream that also reports the staged file's
// SHA-512 (hash_value, hex) and size (total_bytes), as publish does, lets
// the gateway ask for a decision file by file.
type stagedFile struct {
	FilePath   string `json:"file_path"`
	HashValue  string `json:"hash_value"`
	TotalBytes *int64 `json:"total_bytes"`
}

// mediaTypes are the media types of the files CR8TOR stages, by extension.
// A fixed table rather than mime.TypeByExtension, whose answers depend on
// the host's mime.types: an item's media type is content, part of the
// request's digest, and must not change with the machine that packaged.
var mediaTypes = map[string]string{
	".csv":     "text/csv",
	".tsv":     "text/tab-separated-values",
	".json":    "application/json",
	".parquet": "application/vnd.apache.parquet",
	".txt":     "text/plain",
	".sql":     "application/sql",
}

// packageItems returns the items of the approval request for the package
// answer payload: one per staged file, its id the file's path (or, for a
// path longer than an item id may be, "path-sha256:" and the first 32 hex
// digits of its SHA-256), its name the path, its size and its digest
// "sha512:<hex>" as the Publish service reported them.
//
// It is all or nothing: when any staged entry lacks a path an item can
// take, a SHA-512 or a size (the contract's package answer carries only
// paths; a postgresql
// destination lists tables), when two entries share a path, or when there
// are more than approval.MaxItems files, the request has no items and is
// decided as a whole, as before items existed. A request whose items
// covered only some of the files would let publish through with files no
// reviewer decided.
func packageItems(payload json.RawMessage) []approval.Item {
	var staged struct {
		DataRetrieved []json.RawMessage `json:"data_retrieved"`
	}
	if json.Unmarshal(payload, &staged) != nil || len(staged.DataRetrieved) == 0 || len(staged.DataRetrieved) > approval.MaxItems {
		return nil
	}
	items := make([]approval.Item, 0, len(staged.DataRetrieved))
	seen := make(map[string]bool, len(staged.DataRetrieved))
	for _, raw := range staged.DataRetrieved {
		var f stagedFile
		if json.Unmarshal(raw, &f) != nil || !isSHA512Hex(f.HashValue) || f.TotalBytes == nil || *f.TotalBytes < 0 {
			return nil
		}
		id := itemID(f.FilePath)
		// A path the request could not take as an item's name or id
		// (empty, control or invisible characters, too long) would fail
		// the create: the run is then reviewed as a whole.
		var v approval.Validation
		approval.CheckLine(&v, "name", f.FilePath, approval.MaxItemNameLen, true)
		approval.CheckLine(&v, "id", id, approval.MaxItemIDLen, true)
		if v.Err() != nil || seen[id] {
			return nil
		}
		seen[id] = true
		items = append(items, approval.Item{
			ID: id, Name: f.FilePath, Size: *f.TotalBytes,
			Digest:    "sha512:" + strings.ToLower(f.HashValue),
			MediaType: mediaTypes[strings.ToLower(path.Ext(f.FilePath))],
		})
	}
	return items
}

// itemID returns the item id of the file at p: p itself when it fits.
func itemID(p string) string {
	if utf8.RuneCountInString(p) <= approval.MaxItemIDLen {
		return p
	}
	sum := sha256.Sum256([]byte(p))
	return "path-sha256:" + hex.EncodeToString(sum[:16])
}

// isSHA512Hex reports whether s is a SHA-512 in hex (either case).
func isSHA512Hex(s string) bool {
	if len(s) != 128 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Revoked returns the refusal MayPublish gives when the run's request,
// requestID, was approved and then revoked; rev may be nil.
func Revoked(run Run, requestID string, rev *approval.Revocation) *approval.Error {
	by, reason := "an administrator", "no reason was recorded"
	if rev != nil {
		if rev.By != "" {
			by = rev.By
		}
		if rev.Reason != "" {
			reason = shorten(rev.Reason, 500)
		}
	}
	return approval.Errorf(approval.KindForbidden, CodeRevoked,
		"Approval request %s for %s was revoked by %s: %s. Publish is refused; package the run again to ask for a new approval.",
		requestID, run, by, reason)
}

// maxNamedFiles bounds how many files a refusal names.
const maxNamedFiles = 10

// ItemsNotApproved returns the refusal MayPublish gives when the run's
// request, requestID, is approved but not every one of its files is: the
// files named are those not approved, marked when they were rejected.
func ItemsNotApproved(run Run, requestID string, files []string, rejected int) *approval.Error {
	named := files[:min(len(files), maxNamedFiles)]
	list := strings.Join(named, ", ")
	if more := len(files) - len(named); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	what := "not approved"
	if rejected == len(files) {
		what = "rejected"
	}
	return approval.Errorf(approval.KindForbidden, CodeNotApproved,
		"Approval request %s for %s is approved, but not for every file: %d of its files %s %s (%s); publish is allowed only when every file is approved.",
		requestID, run, len(files), plural(len(files), "was", "were"), what, list)
}

// publishable returns nil when r, the newest request of run, allows its
// publish: approved, with every one of its items approved under the digest
// it has (a request without items is decided as a whole). Otherwise it
// returns the refusal, a KindForbidden error naming the request.
func publishable(run Run, r *approval.Request) error {
	switch r.Status {
	case approval.StatusApproved:
	case approval.StatusRevoked:
		return Revoked(run, r.ID, r.Revocation)
	default:
		// pending, changes_requested, acknowledged_*, rejected, …: not
		// approved (yet).
		return NotApproved(run, r.ID, r.Status)
	}
	if len(r.Items) == 0 {
		return nil
	}
	approved := map[string]string{}
	rejected := map[string]bool{}
	if o := r.ItemOutcome; o != nil {
		for _, it := range o.Approved {
			approved[it.ID] = it.Digest
		}
		for _, it := range o.Rejected {
			rejected[it.ID] = true
		}
	}
	var files []string
	nRejected := 0
	for _, it := range r.Items {
		// An approval of other content (a digest that differs) is no
		// approval of this file: fail closed.
		if d, ok := approved[it.ID]; ok && d == it.Digest && !rejected[it.ID] {
			continue
		}
		files = append(files, it.Name)
		if rejected[it.ID] {
			nRejected++
		}
	}
	if len(files) > 0 {
		return ItemsNotApproved(run, r.ID, files, nRejected)
	}
	return nil
}

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// shorten returns s cut to at most n characters, marked with "…" when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
