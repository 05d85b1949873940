package approval

import (
	"bytes"
	"fmt"
	"mime"
	"regexp"
	"slices"
)

// Items: a request may carry the parts of what it asks approval for (the
// files of an output package, the lines of an invoice). They are content:
// they join the content digest, so an edit of the items voids the reviews
// before it, and a review always refers to the items as they were.
//
// A reviewer decides every item (Review.Items) or the request as a whole
// (a plain approve or reject, which applies to every item). Each item is
// decided as a request without items would be, counting only the reviews'
// decisions on that item: it is approved when every rule of the policy
// holds counting the reviews that approve it, and rejected when a rule
// reaches its reject threshold counting the reviews that reject it
// (rejection wins when both hold). The request is
//
//   - rejected as soon as an item is rejected, unless the policy allows
//     partial approval (AllowPartial); with it, when every item is rejected;
//   - approved when every item is decided, at least one is approved and,
//     unless the policy allows partial approval, none is rejected (and its
//     dependencies are approved, as for any request);
//   - otherwise still pending: an item neither approved nor rejected waits
//     for more reviews, as a request without items whose approvals and
//     rejections both fall short does.
//
// What the request shows (its progress, who may review, the open stage a
// review counts in) is the evaluation of its least advanced undecided item
// (itemEvaluation): a reviewer may review while some item still needs
// them, even when every rule has enough approvals of other items.
//
// Once decided, Request.ItemOutcome lists the approved and rejected items
// with their digests: on an approval the items as decided (Partial when
// both lists are non-empty), on a rejection every item as rejected.

// itemDigest is the form of an item's digest.
var itemDigest = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)

// checkItems validates items under field: at most MaxItems, ids unique and
// within MaxItemIDLen, a name, a media type that parses, a size that is not
// negative, a digest "sha256:<64 hex>" or "sha512:<128 hex>" (lower case),
// and metadata, when given, a JSON object of at most MaxItemMetadata bytes.
func checkItems(v *Validation, field string, items []Item) {
	if len(items) > MaxItems {
		v.Add(field, "at most %d items are allowed", MaxItems)
		return
	}
	seen := make(map[string]bool, len(items))
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", field, i)
		CheckLine(v, p+".id", it.ID, MaxItemIDLen, true)
		if seen[it.ID] {
			v.Add(p+".id", "%q is used by another item", it.ID)
		}
		seen[it.ID] = true
		CheckLine(v, p+".name", it.Name, MaxItemNameLen, true)
		if it.MediaType != "" {
			CheckLine(v, p+".media_type", it.MediaType, MaxItemMediaTypeLen, false)
			if _, _, err := mime.ParseMediaType(it.MediaType); err != nil {
				v.Add(p+".media_type", "must be a media type such as text/csv")
			}
		}
		if it.Size < 0 {
			v.Add(p+".size", "must not be negative")
		}
		if !itemDigest.MatchString(it.Digest) {
			v.Add(p+".digest", `must be "sha256:" and 64 lower-case hex digits, or "sha512:" and 128`)
		}
		if it.Metadata != nil {
			switch m := bytes.TrimSpace(it.Metadata); {
			case len(m) > MaxItemMetadata:
				v.Add(p+".metadata", "must be at most %d bytes of JSON", MaxItemMetadata)
			case string(m) == "null":
			default:
				var sub Validation
				checkPayload(&sub, m)
				for _, f := range sub.fields {
					v.Add(p+".metadata", "%s", f.Message)
				}
			}
		}
	}
}

// cloneItems returns a copy of items with their metadata compacted (null
// metadata dropped), nil for none.
func cloneItems(items []Item) []Item {
	if len(items) == 0 {
		return nil
	}
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = it
		switch m := bytes.TrimSpace(it.Metadata); {
		case len(m) == 0 || string(m) == "null":
			out[i].Metadata = nil
		default:
			out[i].Metadata = compactPayload(m)
		}
	}
	return out
}

// checkItemDecisions checks a review's item decisions against r's items:
// every item decided once, each approve or reject, and no item r does not
// have. It returns the review's decision: approve when at least one item is
// approved, reject otherwise.
func (r *Request) checkItemDecisions(v *Validation, ds []ItemDecision) Decision {
	if len(r.Items) == 0 {
		v.Add("items", "the request has no items; decide it as a whole")
		return ""
	}
	known := make(map[string]bool, len(r.Items))
	for _, it := range r.Items {
		known[it.ID] = true
	}
	decided := make(map[string]bool, len(ds))
	d := DecisionReject
	for i, id := range ds {
		p := fmt.Sprintf("items[%d]", i)
		switch {
		case !known[id.ID]:
			v.Add(p+".id", "the request has no item %q", id.ID)
		case decided[id.ID]:
			v.Add(p+".id", "item %q is decided twice", id.ID)
		}
		decided[id.ID] = true
		switch id.Decision {
		case DecisionApprove:
			d = DecisionApprove
		case DecisionReject:
		default:
			v.Add(p+".decision", "must be %q or %q", DecisionApprove, DecisionReject)
		}
	}
	var missing []string
	for _, it := range r.Items {
		if !decided[it.ID] {
			missing = append(missing, it.ID)
		}
	}
	if len(missing) > 0 {
		v.Add("items", "every item must be decided; missing: %s", joinMax(missing, 10))
	}
	return d
}

// joinMax joins at most n of ss, saying how many more there are.
func joinMax(ss []string, n int) string {
	if len(ss) <= n {
		return fmt.Sprintf("%q", ss)
	}
	return fmt.Sprintf("%q and %d more", ss[:n], len(ss)-n)
}

// decisionOn returns rv's decision on the item id: its item decision when
// it decided item by item, else its decision on the whole request ("" when
// an item-by-item review did not name the item, which never counts).
func (rv Review) decisionOn(id string) Decision {
	if len(rv.Items) == 0 {
		return rv.Decision
	}
	for _, d := range rv.Items {
		if d.ID == id {
			return d.Decision
		}
	}
	return ""
}

// itemEvaluations returns the evaluation of r's policy for each of its
// items, counting each live review's decision on the item.
func (r *Request) itemEvaluations() []evaluation {
	live := r.live()
	proj := make([]Review, len(live))
	out := make([]evaluation, len(r.Items))
	for k, it := range r.Items {
		for i, rv := range live {
			proj[i] = rv
			proj[i].Decision = rv.decisionOn(it.ID)
		}
		out[k] = r.Policy.evaluate(proj, r.Requester, r.Escalations)
	}
	return out
}

// itemEvaluation is what a request with items shows and reviews against:
// the evaluation of the undecided item (neither approved nor rejected)
// whose open stage is the earliest, the first such — so that the rules'
// progress names who may still help decide it, and a review counts in the
// stage that item waits in. When no item is undecided (the request is
// being decided), that of the first approved item, else of the first item.
func (r *Request) itemEvaluation() evaluation {
	evs := r.itemEvaluations()
	best := -1
	for i, ev := range evs {
		if !ev.satisfied && !ev.rejected && (best < 0 || ev.open < evs[best].open) {
			best = i
		}
	}
	if best < 0 {
		best = 0
		for i, ev := range evs {
			if ev.satisfied && !ev.rejected {
				best = i
				break
			}
		}
	}
	return evs[best]
}

// itemVerdicts returns r's items split into approved, rejected and
// undecided ones under its live reviews (see the rules above).
func (r *Request) itemVerdicts() (approved, rejected, undecided []Item) {
	for k, ev := range r.itemEvaluations() {
		it := r.Items[k]
		switch {
		case ev.rejected:
			rejected = append(rejected, it)
		case ev.satisfied:
			approved = append(approved, it)
		default:
			undecided = append(undecided, it)
		}
	}
	return approved, rejected, undecided
}

// policyOutcome reports whether r's policy, over its live reviews, approves
// r (ignoring dependencies) and whether it rejects it; for a request with
// items by the rules above, else as its evaluation says.
func (r *Request) policyOutcome() (approves, rejects bool) {
	if len(r.Items) == 0 {
		ev := r.evaluate()
		return ev.satisfied && !ev.rejected, ev.rejected
	}
	ap, rj, und := r.itemVerdicts()
	rejects = (len(rj) > 0 && !r.Policy.AllowPartial) || len(rj) == len(r.Items)
	approves = !rejects && len(und) == 0 && len(ap) > 0
	return approves, rejects
}

// settleItems records r's item outcome for a decision (approve or reject);
// nothing for a request without items.
func (r *Request) settleItems(a Action) {
	if len(r.Items) == 0 {
		r.ItemOutcome = nil
		return
	}
	out := &ItemOutcome{Approved: []ItemRef{}, Rejected: []ItemRef{}}
	ref := func(it Item) ItemRef { return ItemRef{ID: it.ID, Name: it.Name, Digest: it.Digest} }
	if a == ActionApprove {
		ap, rj, _ := r.itemVerdicts()
		for _, it := range ap {
			out.Approved = append(out.Approved, ref(it))
		}
		for _, it := range rj {
			out.Rejected = append(out.Rejected, ref(it))
		}
	} else {
		for _, it := range r.Items {
			out.Rejected = append(out.Rejected, ref(it))
		}
	}
	out.Partial = len(out.Approved) > 0 && len(out.Rejected) > 0
	r.ItemOutcome = out
}

// cloneOutcome returns a deep copy of o.
func cloneOutcome(o *ItemOutcome) *ItemOutcome {
	if o == nil {
		return nil
	}
	return &ItemOutcome{Approved: slices.Clone(o.Approved), Rejected: slices.Clone(o.Rejected), Partial: o.Partial}
}

// cloneItemsDeep returns a deep copy of items, as stored.
func cloneItemsDeep(items []Item) []Item {
	if items == nil {
		return nil
	}
	out := slices.Clone(items)
	for i := range out {
		out[i].Metadata = bytes.Clone(items[i].Metadata)
	}
	return out
}
