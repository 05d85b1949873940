package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/gowebpki/jcs"
)

// This file holds the two rules of the trust model (docs/security.md) that
// the domain enforces: who chooses a request's policy, and what a review
// covers.
//
// Policy authority. The policy a request needs is mandated by an admin: the
// stored policy its service rule names, else a stored policy the requester
// chose by name (stored policies are written by admins), else the server
// default. A requester may add requirements with an inline policy, never
// remove any: the request's policy is the mandated one AND the inline one
// (Combine). Moving a request to another service rule resolves the mandate
// afresh. Only an admin replaces a request's policy outright, and the
// history records it as an override.
//
// Review binding. Every review records the content digest of the request
// it saw (ContentDigest): SHA-256 over the RFC 8785 canonical JSON of every
// field of the request, as the API shows it, except those that record its
// review state (stateFields). An edit that changes the content voids the
// reviews before it, and only reviews of the request's digest count.

// PolicyRequest is what the requester asked of the policy at create: a
// stored policy by name and extra requirements inline. It never changes
// after create; it is kept so that the policy can be resolved afresh when
// the request moves to another service rule.
type PolicyRequest struct {
	Name   string  `json:"name,omitempty"`
	Policy *Policy `json:"policy,omitempty"`
}

// IsZero reports whether the requester asked for nothing.
func (pr PolicyRequest) IsZero() bool { return pr.Name == "" && pr.Policy == nil }

// Mandate is the policy an admin set for a request, and where it came from
// ("service_rule:<name>", "policy:<name>" or "default").
type Mandate struct {
	Policy Policy
	Source string
}

// Policy sources that Combine and an admin's override add.
const (
	sourceInline   = "+inline"
	sourceOverride = "override:"
)

// inlineStage names the stage that holds a requester's extra rules when
// the mandated policy is staged.
const inlineStage = "requested"

// Combine returns the policy of a request whose mandate is m and whose
// requester asked for the extra requirements inline (nil for none), and its
// source. The result keeps every rule and stage of m unchanged and adds
// inline's rules: beside m's rules when neither is staged, else as stages
// after m's. The requester may tighten self-review but not allow it: an
// inline policy with allow_self_review is a KindValidation error, as is a
// combination over the limits or with clashing names.
func Combine(m Mandate, inline *Policy) (Policy, string, error) {
	base := m.Policy.Clone()
	base.Normalize()
	if inline == nil {
		return base, m.Source, nil
	}
	// The requester's unnamed rules and stages get names of their own, so
	// that they cannot clash with the mandated policy's rule-1, stage-1, ….
	add := inline.Clone()
	n := 0
	name := func(rs []Rule) {
		for i := range rs {
			if n++; rs[i].Name == "" {
				rs[i].Name = fmt.Sprintf("%s-%d", inlineStage, n)
			}
		}
	}
	name(add.Rules)
	for i := range add.Stages {
		if add.Stages[i].Name == "" {
			add.Stages[i].Name = fmt.Sprintf("%s-%d", inlineStage, i+1)
		}
		name(add.Stages[i].Rules)
	}
	add.Normalize()
	var v Validation
	if add.AllowSelfReview {
		v.Add("policy.allow_self_review", "only a stored policy, written by an admin, may allow self-review; a request's own policy can only add requirements")
		return Policy{}, "", v.Err()
	}
	// Automatic approval and partial approval loosen the review: only an
	// admin's policy may have them (an inline auto_reject_if only adds a
	// way to reject, and applies to the inline rule alone).
	if add.AllowPartial {
		v.Add("policy.allow_partial", "only a stored policy, written by an admin, may allow partial approval")
	}
	for si, st := range add.stages() {
		for ri, rule := range st.Rules {
			if rule.AutoApproveIf == "" {
				continue
			}
			path := fmt.Sprintf("policy.rules[%d].auto_approve_if", ri)
			if len(add.Stages) > 0 {
				path = fmt.Sprintf("policy.stages[%d].rules[%d].auto_approve_if", si, ri)
			}
			v.Add(path, "only a stored policy, written by an admin, may approve automatically; a request's own policy can only add requirements")
		}
	}
	if err := v.Err(); err != nil {
		return Policy{}, "", err
	}
	add.Validate(&v, "policy", "")
	if err := v.Err(); err != nil {
		return Policy{}, "", err
	}
	out := Policy{
		AllowSelfReview:      false,
		RequireJustification: base.RequireJustification || add.RequireJustification,
		RequireComment:       slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(base.RequireComment), add.RequireComment...)))),
		AllowPartial:         base.AllowPartial,
		MaxChangeCycles:      tighterCap(base.MaxChangeCycles, add.MaxChangeCycles),
		ForbidAutoApprove:    base.ForbidAutoApprove || add.ForbidAutoApprove,
	}
	if len(out.RequireComment) == 0 {
		out.RequireComment = nil
	}
	if len(base.Stages) == 0 && len(add.Stages) == 0 {
		out.Rules = append(cloneRules(base.Rules), cloneRules(add.Rules)...)
	} else {
		out.Stages = base.Clone().Stages
		if len(out.Stages) == 0 {
			out.Stages = []Stage{{Name: "mandated", Rules: cloneRules(base.Rules)}}
		}
		if len(add.Stages) == 0 {
			out.Stages = append(out.Stages, Stage{Name: inlineStage, Rules: cloneRules(add.Rules)})
		} else {
			out.Stages = append(out.Stages, add.Clone().Stages...)
		}
	}
	out.Normalize()
	out.Validate(&v, "policy", "") // the combination's limits and names
	if err := v.Err(); err != nil {
		return Policy{}, "", err
	}
	return out, m.Source + sourceInline, nil
}

// tighterCap returns the smaller of two caps, 0 meaning none.
func tighterCap(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// stateFields are the fields of a request's JSON that record its review
// state rather than what is reviewed; every other field is content, so a
// field added later is covered by the digest unless it is listed here.
var stateFields = []string{
	"status", "status_code", "previous_status", "comment", "reviews", "delivery", "version",
	"created_at", "updated_at", "decided_at", "progress", "reason", "next_reminder_at",
	"remind_after", "outcome", "content_digest", "stage_opened_at", "escalations", "next_escalation_at",
	"item_outcome", "cycle", "revocation",
}

// ContentDigest returns the digest of r's content: "sha256:" and the hex
// SHA-256 of the RFC 8785 (JCS) canonical JSON of r as the API shows it,
// without stateFields. Anyone holding the request's JSON can recompute it.
func (r *Request) ContentDigest() string {
	encoded, err := json.Marshal(r) // the API's encoding: empty lists as [], not null
	if err != nil {
		panic(fmt.Sprintf("approval: a request does not encode: %v", err)) // its fields always encode
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(encoded, &m); err != nil {
		panic(fmt.Sprintf("approval: a request's JSON does not decode: %v", err))
	}
	for _, f := range stateFields {
		delete(m, f)
	}
	content, _ := json.Marshal(m)
	canonical, err := jcs.Transform(content)
	if err != nil {
		// Payloads are checked to canonicalise (checkExactNumbers); a
		// failure here is a bug.
		panic(fmt.Sprintf("approval: a request's content does not canonicalise: %v", err))
	}
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// live returns the reviews that may count: those of r's current content.
// (The policy's evaluation skips void ones and applies its own rules.)
func (r *Request) live() []Review {
	out := make([]Review, 0, len(r.Reviews))
	for _, rv := range r.Reviews {
		if rv.Digest == r.Digest {
			out = append(out, rv)
		}
	}
	return out
}

// ensureDigest gives a request stored before content digests existed its
// digest, before a change to it; its reviews not voided by then are taken
// to be of that content (the rules of the time voided them on payload and
// policy changes).
func (r *Request) ensureDigest() {
	if r.Digest != "" {
		return
	}
	r.Digest = r.ContentDigest()
	for i := range r.Reviews {
		if r.Reviews[i].Digest == "" {
			r.Reviews[i].Digest = r.Digest
		}
	}
}

// redigest sets r's digest after an edit from before: when the content
// changed, the reviews of the old content are void; when only its encoding
// did (a newer version of approvald that encodes a field differently), the
// reviews of the content as it was are carried over to the new digest.
// Both digests are computed by this version, so an upgrade never voids a
// review by itself.
func (r *Request) redigest(before *Request) {
	now := r.ContentDigest()
	if before.ContentDigest() != now {
		r.Digest = now
		r.voidStale()
		r.ItemOutcome = nil // of the items before, if any
		return
	}
	if r.Digest != now {
		for i := range r.Reviews {
			if r.Reviews[i].Digest == r.Digest {
				r.Reviews[i].Digest = now
			}
		}
		r.Digest = now
	}
}

// voidStale voids every review that is not of r's current content digest.
func (r *Request) voidStale() {
	for i := range r.Reviews {
		if r.Reviews[i].Digest != r.Digest {
			r.Reviews[i].Void = true
		}
	}
}

// maxExactDigits is the number of significant decimal digits that always
// survive a round trip through an IEEE 754 double (DBL_DIG).
const maxExactDigits = 15

// checkExactNumbers reports the first number in the JSON value p that
// canonical JSON (RFC 8785, which writes numbers as IEEE 754 doubles) would
// change: a payload such a number is in could be edited without its digest
// changing, and a receiver would act on a value no reviewer saw.
func checkExactNumbers(v *Validation, field string, p json.RawMessage) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return // the end, or a syntax error reported elsewhere
		}
		n, ok := tok.(json.Number)
		if !ok || exactNumber(string(n)) {
			continue
		}
		s := string(n)
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		v.Add(field, "the number %s cannot be kept exactly (JSON numbers are IEEE 754 doubles, about 15 significant digits); send it as a string", s)
		return
	}
}

// exactNumber reports whether the JSON number s denotes exactly the value
// of the double nearest to it, so canonical JSON keeps its value.
func exactNumber(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return false // out of range
	}
	mant := s
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		mant = mant[:i]
	}
	digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(mant), "0")
	if strings.Contains(mant, ".") {
		digits = strings.TrimRight(digits, "0")
	}
	switch {
	case f == 0:
		return digits == "" // a literal that rounds to zero must be zero
	case len(digits) <= maxExactDigits && math.Abs(f) >= 0x1p-1022:
		return true // a normal double keeps 15 significant digits
	}
	want, ok1 := new(big.Rat).SetString(s)
	got, ok2 := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	return ok1 && ok2 && want.Cmp(got) == 0
}
