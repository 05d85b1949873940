// Package rocrate builds the release record of a CR8TOR publication: an
// RO-Crate 1.1 metadata document (ro-crate-metadata.json, JSON-LD) that
// uses the Five Safes RO-Crate profile's terms where they fit.
//
// The record describes the publication as the root Dataset, with the
// published files as its parts (File entities with their size, media
// type and SHA-512), the project as a Project, the workflow run as a
// CreateAction, each review as an AssessAction (a disclosure check in the
// Five Safes sense) with its agent, time, outcome and the version of the
// request it reviewed, the decision as an AssessAction whose instrument is
// the policy, a revocation as an UpdateAction, and the signed DSSE receipt
// of the decision as a CreativeWork that carries the envelope (each file
// whose SHA-512 the receipt has a subject of is that receipt's subjectOf).
//
// Terms the RO-Crate 1.1 context does not define are declared in the
// document's own context: the SPDX checksum vocabulary (spdx:checksum,
// spdx:Checksum, spdx:algorithm, spdx:checksumValue; the property DCAT 3
// recommends for checksums, since schema.org has none for SHA-512) and
// Profile (W3C Profiles Vocabulary, as RO-Crate 1.2 defines it).
//
// The files' @ids are their paths relative to the publication's root,
// percent-encoded (a leading "/" and empty segments dropped, dot segments
// encoded), so the record is a detached crate whose root is where the
// Publish service put the files; a file whose path leaves no @id, or the
// @id of another, is listed as "#published-file-N". The request, the
// receipt and approvald are named under the public base URL when there is
// one, by fragments of the record otherwise.
//
// The RO-Crate 1.1 context ships with the package, so Expand processes a
// record as JSON-LD without the network.
package rocrate
