package gateway

import (
	"encoding/json"
	"strings"

	"approvald/approval"
)

// PublishedFile is a file the Publish service reported publishing for a
// run, as the outcome of the run's approved request records it
// (Step.Published): its path, its SHA-512 in lower-case hex, its size.
type PublishedFile struct {
	Path   string
	SHA512 string
	Bytes  *int64
}

// IsPublication reports whether r is a CR8TOR publication request: one the
// gateway's approval step opened for a run (its subject is the run's).
func IsPublication(r *approval.Request) bool {
	return strings.HasPrefix(r.Subject, "cr8tor:") || strings.HasPrefix(r.Subject, "cr8tor#")
}

// RunOf returns the run of the publication request r, read from the
// package request its payload keeps; ok is false when r is not a
// publication or its payload no longer names the run.
func RunOf(r *approval.Request) (run Run, ok bool) {
	if !IsPublication(r) {
		return Run{}, false
	}
	var p struct {
		Request json.RawMessage `json:"request"`
	}
	if json.Unmarshal(r.Payload, &p) != nil || len(p.Request) == 0 {
		return Run{}, false
	}
	run, err := checkBody(p.Request)
	return run, err == nil
}

// PublishedFiles returns the files the outcome of the publication request
// r records as published, each with the SHA-512 the Publish service
// reported (entries without a path or a well-formed SHA-512 are left out:
// nothing can be said of their content). It returns nil when r is not a
// publication or nothing has been published for it yet.
func PublishedFiles(r *approval.Request) []PublishedFile {
	if !IsPublication(r) || len(r.Outcome) == 0 {
		return nil
	}
	var o struct {
		Published struct {
			DataPublished []stagedFile `json:"data_published"`
		} `json:"published"`
	}
	if json.Unmarshal(r.Outcome, &o) != nil {
		return nil
	}
	var out []PublishedFile
	for _, f := range o.Published.DataPublished {
		if f.FilePath == "" || !isSHA512Hex(f.HashValue) {
			continue
		}
		out = append(out, PublishedFile{Path: f.FilePath, SHA512: strings.ToLower(f.HashValue), Bytes: f.TotalBytes})
	}
	return out
}
