package rocrate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"approvald/approval"
	"approvald/gateway"
	"approvald/receipt"
)

// Input is what a release record is made of.
type Input struct {
	// Request is the run's approval request, decided.
	Request *approval.Request
	// Run is the CR8TOR run the request approved the publication of.
	Run gateway.Run
	// Files are what the Publish service published for the run.
	Files []gateway.PublishedFile
	// Receipt is the signed DSSE receipt of the decision; the zero
	// Envelope when there is none (receipts not configured): the record
	// then carries no receipt and no policy digest.
	Receipt receipt.Envelope
	// BaseURL is approvald's public base URL ("https://approvals.example");
	// "" makes the @ids of the request, the receipt and approvald
	// fragments of the record.
	BaseURL string
	// License is the URL of the licence the released data are under
	// (https://creativecommons.org/licenses/by/4.0/, an SPDX URL…), which
	// RO-Crate requires of the root; "" names the project's data access
	// terms instead, which approvald cannot know.
	License string
}

// Vocabulary the record uses beyond the RO-Crate 1.1 context.
const (
	spdxNS             = "http://spdx.org/rdf/terms#"
	profNS             = "http://www.w3.org/ns/dx/prof/"
	shpDisclosureCheck = "https://w3id.org/shp#DisclosureCheck"
	dsseEnvelopeSpec   = "https://github.com/secure-systems-lab/dsse/blob/v1.0.0/envelope.md"
	actionCompleted    = "http://schema.org/CompletedActionStatus"
	actionFailed       = "http://schema.org/FailedActionStatus"
)

// localContext defines the terms the record uses that the RO-Crate 1.1
// context does not (see the package documentation).
var localContext = map[string]any{
	"spdx":    spdxNS,
	"Profile": profNS + "Profile",
}

// The @ids of the record's own entities.
const (
	rootID     = "./"
	projectID  = "#project"
	runID      = "#run"
	decisionID = "#decision"
	policyID   = "#policy"
	revokeID   = "#revocation"
	licenseID  = "#license"
)

type entity = map[string]any

func ref(id string) map[string]any { return map[string]any{"@id": id} }

func refs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = ref(id)
	}
	return out
}

// timestamp formats t as RFC 3339 in UTC, as RO-Crate asks of times.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// graph is the record's @graph: entities in order, each @id once.
type graph struct {
	entities []entity
	seen     map[string]bool
}

func (g *graph) add(e entity) {
	id := e["@id"].(string)
	if g.seen[id] {
		return
	}
	g.seen[id] = true
	g.entities = append(g.entities, e)
}

// builder holds what the entities are built from.
type builder struct {
	in          Input
	r           *approval.Request
	g           graph
	base        string
	requestID   string
	receiptID   string
	approvaldID string
}

// Build returns the release record of in as an indented RO-Crate 1.1
// JSON-LD document (ro-crate-metadata.json). It returns an error when
// in.Request is nil or not decided, in.Run names no project, BaseURL is
// not an absolute http(s) URL without query or fragment, a file's SHA-512
// is not 128 lower-case hex digits, or in.Receipt is not empty and is not
// an in-toto DSSE envelope of a statement about in.Request.
func Build(in Input) ([]byte, error) {
	r := in.Request
	switch {
	case r == nil:
		return nil, errors.New("rocrate: no approval request")
	case !r.Status.Final() && !r.Status.Acknowledged():
		return nil, fmt.Errorf("rocrate: request %s is %s: only a decided request has a release record", r.ID, r.Status)
	case strings.TrimSpace(in.Run.ProjectName) == "":
		return nil, fmt.Errorf("rocrate: request %s names no CR8TOR project", r.ID)
	}
	base, err := checkBase(in.BaseURL)
	if err != nil {
		return nil, err
	}
	if err := CheckLicense(in.License); err != nil {
		return nil, err
	}
	st, hasReceipt, err := statementOf(in.Receipt, r.ID)
	if err != nil {
		return nil, err
	}
	b := &builder{in: in, r: r, g: graph{seen: map[string]bool{}}, base: base}
	if base != "" {
		b.requestID = base + "/v1/approvals/" + url.PathEscape(r.ID)
		b.receiptID = b.requestID + "/receipt"
		b.approvaldID = base + "/"
	} else {
		b.requestID, b.receiptID, b.approvaldID = "#approval-request", "#receipt", "#approvald"
	}

	b.g.add(entity{
		"@id": FileName, "@type": "CreativeWork", "about": ref(rootID),
		"conformsTo": refs([]string{SpecURL, ProfileURL}),
	})
	root := entity{"@id": rootID, "@type": "Dataset"}
	b.g.add(root)

	fileIDs, err := b.files(covered(st))
	if err != nil {
		return nil, err
	}
	mentions := []string{runID}
	b.project()
	b.run(fileIDs)
	b.request()
	reviews := b.reviews()
	b.decision(st, hasReceipt)
	mentions = append(mentions, decisionID)
	mentions = append(mentions, reviews...)
	if b.revocation() {
		mentions = append(mentions, revokeID)
	}
	if hasReceipt {
		if err := b.receipt(); err != nil {
			return nil, err
		}
		mentions = append(mentions, b.receiptID)
	}
	b.vocabulary()

	published := r.DecidedAt
	if published == nil {
		published = &r.UpdatedAt
	}
	root["name"] = fmt.Sprintf("Publication of project %s, run %s", in.Run.ProjectName, in.Run.StartTime)
	root["description"] = fmt.Sprintf("The files CR8TOR's Publish service published for run %s of project %s, "+
		"released under approvald approval request %s (%s).", in.Run.StartTime, in.Run.ProjectName, r.ID, r.Status)
	root["datePublished"] = timestamp(*published)
	root["hasPart"] = refs(fileIDs)
	root["conformsTo"] = ref(ProfileURL)
	root["sourceOrganization"] = ref(projectID)
	root["mentions"] = refs(mentions)
	root["creativeWorkStatus"] = publicationStatus(r.Status)
	root["license"] = ref(b.license())

	doc := map[string]any{
		"@context": []any{ContextURL, localContext},
		"@graph":   b.g.entities,
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("rocrate: encoding the record of %s: %w", r.ID, err)
	}
	return out.Bytes(), nil
}

// license adds the licence entity the root names and returns its @id: the
// configured licence's URL, or the project's data access terms.
func (b *builder) license() string {
	if b.in.License != "" {
		b.g.add(entity{"@id": b.in.License, "@type": "CreativeWork", "name": b.in.License})
		return b.in.License
	}
	b.g.add(entity{"@id": licenseID, "@type": "CreativeWork", "name": "The project's data access terms",
		"description": "approvald was not told the licence of the released data (APPROVALD_RELEASE_LICENSE): " +
			"they are released under the terms of project " + b.in.Run.ProjectName + "'s data access agreement with the TRE."})
	return licenseID
}

// checkBase returns base without a trailing "/", or an error when it is
// set and is not an absolute http(s) URL without query or fragment.
func checkBase(base string) (string, error) {
	if base == "" {
		return "", nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("rocrate: base URL %q is not an absolute http(s) URL without query or fragment", base)
	}
	return strings.TrimRight(base, "/"), nil
}

// CheckLicense returns an error unless license is "" or an absolute
// http(s) URL, as a licence's @id must be.
func CheckLicense(license string) error {
	if license == "" {
		return nil
	}
	u, err := url.Parse(license)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("rocrate: licence %q is not an absolute http(s) URL", license)
	}
	return nil
}

// statementOf decodes the statement env carries; ok is false when env is
// empty. It returns an error when env is set but is not an in-toto DSSE
// envelope whose statement is about request id.
func statementOf(env receipt.Envelope, id string) (st receipt.Statement, ok bool, err error) {
	if env.Payload == "" && env.PayloadType == "" && len(env.Signatures) == 0 {
		return receipt.Statement{}, false, nil
	}
	if env.PayloadType != receipt.PayloadType {
		return st, false, fmt.Errorf("rocrate: the receipt's payloadType is %q, not %s", env.PayloadType, receipt.PayloadType)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return st, false, fmt.Errorf("rocrate: the receipt's payload is not standard base64: %w", err)
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return st, false, fmt.Errorf("rocrate: the receipt's payload is not an in-toto statement: %w", err)
	}
	if st.PredicateType != receipt.PredicateType || st.Predicate.RequestID != id {
		return st, false, fmt.Errorf("rocrate: the receipt is not a decision receipt of request %s", id)
	}
	if len(env.Signatures) == 0 {
		return st, false, errors.New("rocrate: the receipt has no signature")
	}
	return st, true, nil
}

// publicationStatus is the root's creativeWorkStatus for request status s.
func publicationStatus(s approval.Status) string {
	switch s {
	case approval.StatusApproved, approval.StatusAcknowledgedApproved:
		return "Published"
	case approval.StatusRevoked:
		return "Revoked"
	default:
		return "Not approved (" + s.String() + ")"
	}
}

// approvedDecision reports whether the decision of a request now in
// status s was an approval (a revoked request was approved, then revoked).
func approvedDecision(s approval.Status) bool {
	return s == approval.StatusApproved || s == approval.StatusAcknowledgedApproved || s == approval.StatusRevoked
}

// covered returns the SHA-512 digests (hex) the statement st has subjects of.
func covered(st receipt.Statement) map[string]bool {
	out := map[string]bool{}
	for _, s := range st.Subject {
		if d := s.Digest["sha512"]; d != "" {
			out[d] = true
		}
	}
	return out
}

// files adds the published files and their checksums and returns their
// @ids; a file whose SHA-512 the receipt covers is its subjectOf.
func (b *builder) files(inReceipt map[string]bool) ([]string, error) {
	ids := make([]string, 0, len(b.in.Files))
	for i, f := range b.in.Files {
		sum, err := niURI("sha-512", 64, f.SHA512)
		if err != nil {
			return nil, fmt.Errorf("rocrate: published file %d (%q): SHA-512 %w", i+1, f.Path, err)
		}
		id := fileID(f.Path)
		if id == "" || b.g.seen[id] {
			// Nothing of the path is left, or it names the same @id as
			// another file's: the file is still listed, under its index.
			id = fmt.Sprintf("#published-file-%d", i+1)
		}
		e := entity{
			"@id": id, "@type": "File", "name": f.Path,
			"spdx:checksum": ref(sum),
		}
		if f.Bytes != nil {
			e["contentSize"] = strconv.FormatInt(*f.Bytes, 10)
		}
		if mt := mediaType(f.Path); mt != "" {
			e["encodingFormat"] = mt
		}
		if inReceipt[f.SHA512] {
			e["subjectOf"] = ref(b.receiptID)
		}
		b.g.add(e)
		b.checksum(sum, "sha512", f.SHA512)
		ids = append(ids, id)
	}
	return ids, nil
}

// checksum adds the SPDX checksum entity id of the hex digest sum.
func (b *builder) checksum(id, alg, sum string) {
	b.g.add(entity{
		"@id": id, "@type": "spdx:Checksum",
		"spdx:algorithm":     ref("spdx:checksumAlgorithm_" + alg),
		"spdx:checksumValue": sum,
	})
}

// agent adds the entity of principal p and returns its @id: a
// SoftwareApplication for services and approvald itself ("svc:",
// "system:"), a Person otherwise.
func (b *builder) agent(p string) string {
	id := fragment("principal-", p)
	typ := "Person"
	if strings.HasPrefix(p, "svc:") || strings.HasPrefix(p, "system:") {
		typ = "SoftwareApplication"
	}
	b.g.add(entity{"@id": id, "@type": typ, "name": p, "identifier": p})
	return id
}

func (b *builder) project() {
	b.g.add(entity{"@id": projectID, "@type": "Project", "name": b.in.Run.ProjectName})
}

// run adds the workflow run: the CreateAction the Five Safes profile
// mentions from the root, whose results are the published files. Its
// start time is kept as sent in identifier and is its startTime only when
// it is an ISO 8601 date-time.
func (b *builder) run(fileIDs []string) {
	status := actionFailed
	if approvedDecision(b.r.Status) {
		status = actionCompleted
	}
	e := entity{
		"@id": runID, "@type": "CreateAction",
		"name":         fmt.Sprintf("CR8TOR run %s of project %s", b.in.Run.StartTime, b.in.Run.ProjectName),
		"identifier":   b.in.Run.StartTime,
		"agent":        ref(b.agent(b.r.Requester)),
		"actionStatus": ref(status),
		"result":       refs(fileIDs),
	}
	if isDateTime(b.in.Run.StartTime) {
		e["startTime"] = b.in.Run.StartTime
	}
	b.g.add(e)
}

// isDateTime reports whether s is an ISO 8601 date-time as RFC 3339 has
// it, with or without a time zone.
func isDateTime(s string) bool {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// request adds the approval request.
func (b *builder) request() {
	r := b.r
	e := entity{
		"@id": b.requestID, "@type": "CreativeWork",
		"name": r.Title, "identifier": r.ID,
		"version":            strconv.FormatInt(r.Version, 10),
		"dateCreated":        timestamp(r.CreatedAt),
		"author":             ref(b.agent(r.Requester)),
		"creativeWorkStatus": r.Status.String(),
	}
	if b.base != "" {
		e["url"] = b.requestID
	}
	b.g.add(e)
}

// version adds the request as it was at version v and returns its @id.
func (b *builder) version(v int64) string {
	id := "#approval-request-v" + strconv.FormatInt(v, 10)
	b.g.add(entity{
		"@id": id, "@type": "CreativeWork",
		"name":          fmt.Sprintf("Approval request %s at version %d", b.r.ID, v),
		"version":       strconv.FormatInt(v, 10),
		"exampleOfWork": ref(b.requestID),
	})
	return id
}

// reviews adds each review as a disclosure-check AssessAction (void ones
// too, said so) with its result, a Review, and returns their @ids.
func (b *builder) reviews() []string {
	ids := make([]string, 0, len(b.r.Reviews))
	for i, rv := range b.r.Reviews {
		id := "#review-" + strconv.Itoa(i+1)
		performer := rv.Reviewer
		if rv.By != "" {
			performer = rv.By
		}
		agent := b.agent(performer)
		at := timestamp(rv.At)
		status := actionFailed
		if rv.Decision == approval.DecisionApprove {
			status = actionCompleted
		}
		name := fmt.Sprintf("Disclosure check by %s: %s", rv.Reviewer, rv.Decision)
		if rv.By != "" {
			name = fmt.Sprintf("Disclosure check by %s for %s: %s", rv.By, rv.Reviewer, rv.Decision)
		}
		e := entity{
			"@id": id, "@type": "AssessAction",
			"additionalType": ref(shpDisclosureCheck),
			"name":           name,
			"agent":          ref(agent),
			"startTime":      at,
			"endTime":        at,
			"actionStatus":   ref(status),
			"object":         refs([]string{rootID, b.version(rv.Version)}),
			"result":         ref(id + "-result"),
		}
		if rv.By != "" {
			e["participant"] = ref(b.agent(rv.Reviewer))
		}
		var notes []string
		if rv.Void {
			notes = append(notes, "Void: this review no longer counted for the decision "+
				"(the request changed after it, or the reviewer decided again).")
		}
		if rv.Auto != nil {
			notes = append(notes, fmt.Sprintf("Automatic decision of rule %q of policy %q: %s",
				rv.Auto.Rule, rv.Auto.Policy, rv.Auto.Expression))
		}
		if len(notes) > 0 {
			e["description"] = strings.Join(notes, " ")
		}
		b.g.add(e)
		result := entity{
			"@id": id + "-result", "@type": "Review",
			"name":          string(rv.Decision),
			"itemReviewed":  ref(rootID),
			"author":        ref(agent),
			"datePublished": at,
		}
		if rv.Comment != "" {
			result["reviewBody"] = rv.Comment
		}
		b.g.add(result)
		ids = append(ids, id)
	}
	return ids
}

// decision adds approvald's decision, an AssessAction whose instrument is
// the policy, and the policy with its SHA-256 when the receipt has it.
func (b *builder) decision(st receipt.Statement, hasReceipt bool) {
	r := b.r
	b.g.add(entity{"@id": b.approvaldID, "@type": "SoftwareApplication", "name": "approvald"})
	status, outcome := actionFailed, r.Status.String()
	if approvedDecision(r.Status) {
		status, outcome = actionCompleted, "approved"
	}
	description := fmt.Sprintf("approvald decided approval request %s: %s.", r.ID, outcome)
	if r.Reason != "" {
		description += " " + r.Reason
	}
	e := entity{
		"@id": decisionID, "@type": "AssessAction",
		"additionalType": ref(shpDisclosureCheck),
		"name":           "Disclosure check of the publication: " + outcome,
		"description":    description,
		"agent":          ref(b.approvaldID),
		"actionStatus":   ref(status),
		"object":         refs([]string{rootID, b.version(r.Version)}),
		"instrument":     ref(policyID),
	}
	if r.DecidedAt != nil {
		e["endTime"] = timestamp(*r.DecidedAt)
	}
	if approvedDecision(r.Status) {
		e["result"] = ref(rootID)
	}
	b.g.add(e)

	policy := entity{"@id": policyID, "@type": "CreativeWork", "encodingFormat": "application/json"}
	policy["name"] = "Approval policy"
	if r.PolicySource != "" {
		policy["name"] = "Approval policy " + r.PolicySource
		policy["identifier"] = r.PolicySource
	}
	if hasReceipt {
		// The receipt's policy is RFC 8785 canonical JSON, the bytes its
		// SHA-256 is of.
		policy["text"] = string(st.Predicate.Policy)
		if sum, err := niURI("sha-256", 32, st.Predicate.PolicySHA256); err == nil {
			policy["spdx:checksum"] = ref(sum)
			b.g.add(policy)
			b.checksum(sum, "sha256", st.Predicate.PolicySHA256)
			return
		}
	} else if text, err := json.Marshal(r.Policy); err == nil {
		policy["text"] = string(text)
	}
	b.g.add(policy)
}

// revocation adds the revocation, if any, as an UpdateAction of the
// publication and reports whether there was one.
func (b *builder) revocation() bool {
	rv := b.r.Revocation
	if rv == nil {
		return false
	}
	at := timestamp(rv.At)
	e := entity{
		"@id": revokeID, "@type": "UpdateAction",
		"name":         "Approval revoked by " + rv.By,
		"agent":        ref(b.agent(rv.By)),
		"startTime":    at,
		"endTime":      at,
		"actionStatus": ref(actionCompleted),
		"object":       refs([]string{rootID, decisionID}),
	}
	if rv.Reason != "" {
		e["description"] = rv.Reason
	}
	b.g.add(e)
	return true
}

// receipt adds the signed receipt: a CreativeWork whose text is the DSSE
// envelope, with one PropertyValue per signature naming its keyid.
func (b *builder) receipt() error {
	env := b.in.Receipt
	text, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("rocrate: encoding the receipt of %s: %w", b.r.ID, err)
	}
	kids := make([]string, 0, len(env.Signatures))
	keyIDs := make([]string, 0, len(env.Signatures))
	for i, s := range env.Signatures {
		id := "#receipt-keyid-" + strconv.Itoa(i+1)
		kid := entity{"@id": id, "@type": "PropertyValue", "name": "keyid", "propertyID": "keyid", "value": s.KeyID}
		if b.base != "" {
			kid["url"] = b.base + "/.well-known/approvald/keys"
		}
		b.g.add(kid)
		kids = append(kids, id)
		keyIDs = append(keyIDs, s.KeyID)
	}
	e := entity{
		"@id": b.receiptID, "@type": "CreativeWork",
		"name": "Signed decision receipt of approval request " + b.r.ID,
		"description": fmt.Sprintf("A DSSE envelope whose payload (payloadType %s) is an in-toto Statement "+
			"(predicateType %s) of the decision, signed with Ed25519 by the key(s) %s.",
			env.PayloadType, receipt.PredicateType, strings.Join(keyIDs, ", ")),
		"encodingFormat":     []any{"application/json", ref(dsseEnvelopeSpec)},
		"text":               string(text),
		"about":              ref(decisionID),
		"additionalProperty": refs(kids),
	}
	if b.base != "" {
		e["contentUrl"] = b.receiptID
	}
	b.g.add(e)
	b.g.add(entity{"@id": dsseEnvelopeSpec, "@type": "CreativeWork", "name": "DSSE envelope, version 1"})
	return nil
}

// vocabulary adds the entities that name the specifications and terms
// the record refers to.
func (b *builder) vocabulary() {
	b.g.add(entity{"@id": SpecURL, "@type": "CreativeWork", "name": "RO-Crate 1.1", "version": "1.1"})
	b.g.add(entity{"@id": ProfileURL, "@type": []any{"CreativeWork", "Profile"},
		"name": "Five Safes RO-Crate profile", "version": "0.4"})
	b.g.add(entity{"@id": shpDisclosureCheck, "@type": "DefinedTerm", "name": "Disclosure check"})
}
