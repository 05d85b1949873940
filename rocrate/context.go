package rocrate

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/piprate/json-gold/ld"
)

// The identifiers of what a release record conforms to.
const (
	// ContextURL is the RO-Crate 1.1 JSON-LD context a record refers to.
	ContextURL = "https://w3id.org/ro/crate/1.1/context"
	// SpecURL is the RO-Crate 1.1 specification.
	SpecURL = "https://w3id.org/ro/crate/1.1"
	// ProfileURL is the Five Safes RO-Crate profile (release 0.4).
	ProfileURL = "https://w3id.org/5s-crate/0.4"
	// MediaType is the media type of a release record.
	MediaType = "application/ld+json"
	// ContentType is the Content-Type RO-Crate 1.1 suggests serving a
	// record with: JSON-LD, flattened and compacted, an RO-Crate.
	ContentType = MediaType + `; profile="http://www.w3.org/ns/json-ld#flattened http://www.w3.org/ns/json-ld#compacted https://w3id.org/ro/crate"`
	// FileName is the name RO-Crate gives the metadata document.
	FileName = "ro-crate-metadata.json"
)

// roCrateContext is the RO-Crate 1.1 context document (see context/README.md).
//
//go:embed context/ro-crate-1.1.jsonld
var roCrateContext []byte

// Context returns a copy of the RO-Crate 1.1 context document the package
// ships, the one served at ContextURL.
func Context() []byte { return append([]byte(nil), roCrateContext...) }

// offlineLoader serves the shipped RO-Crate context for ContextURL and
// refuses every other URL: expanding a record never goes to the network.
type offlineLoader struct{ context any }

// LoadDocument returns the shipped context for ContextURL and an error for
// any other URL.
func (l offlineLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	if u != ContextURL {
		return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed,
			fmt.Sprintf("rocrate: %q is not available offline (only %s is)", u, ContextURL))
	}
	return &ld.RemoteDocument{DocumentURL: ContextURL, Document: l.context}, nil
}

// newLoader returns the offline loader with a fresh copy of the context
// (json-gold may keep references into the document it is given).
func newLoader() (ld.DocumentLoader, error) {
	var c any
	if err := json.Unmarshal(roCrateContext, &c); err != nil {
		return nil, fmt.Errorf("rocrate: the shipped RO-Crate context is not JSON: %w", err)
	}
	return offlineLoader{context: c}, nil
}

// Expand returns the JSON-LD expansion of doc with the shipped RO-Crate
// context and no network: a context other than ContextURL that is not
// inline cannot be loaded. It expands in json-gold's safe mode, so it
// returns an error rather than silently dropping a property whose term
// does not expand to an absolute IRI. It returns an error when doc is not
// JSON or not valid JSON-LD. Relative @ids stay relative (no base).
func Expand(doc []byte) ([]any, error) {
	var input any
	if err := json.Unmarshal(doc, &input); err != nil {
		return nil, fmt.Errorf("rocrate: the document is not JSON: %w", err)
	}
	loader, err := newLoader()
	if err != nil {
		return nil, err
	}
	opts := ld.NewJsonLdOptions("")
	opts.DocumentLoader = loader
	opts.SafeMode = true
	out, err := ld.NewJsonLdProcessor().Expand(input, opts)
	if err != nil {
		return nil, fmt.Errorf("rocrate: expanding as JSON-LD: %w", err)
	}
	return out, nil
}
