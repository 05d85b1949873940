package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"approvald/approval"
)

// relTime says when t is relative to now, the way people say it: "just
// now", "in 5 minutes", "3 hours ago"; a date past a month.
func relTime(now, t time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if d < 0 {
		d = -d
	}
	var s string
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Second:
		s = "1 minute"
	case d < time.Hour:
		s = fmt.Sprintf("%d minutes", int(d.Round(time.Minute)/time.Minute))
	case d < 90*time.Minute:
		s = "1 hour"
	case d < 24*time.Hour:
		s = fmt.Sprintf("%d hours", int(d.Round(time.Hour)/time.Hour))
	case d < 36*time.Hour:
		s = "1 day"
	case d < 30*24*time.Hour:
		s = fmt.Sprintf("%d days", int((d+12*time.Hour)/(24*time.Hour)))
	default:
		return t.UTC().Format("2 Jan 2006")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// statusClass is the CSS class of a status badge: one colour per outcome.
func statusClass(s approval.Status) string {
	switch s.Settled() { // an acknowledged decision looks like its final status
	case approval.StatusPending:
		return "badge pending"
	case approval.StatusApproved:
		return "badge approved"
	case approval.StatusRejected:
		return "badge rejected"
	case approval.StatusError:
		return "badge error"
	case approval.StatusChangesRequested:
		return "badge changes"
	case approval.StatusRevoked:
		return "badge revoked"
	default:
		return "badge neutral"
	}
}

// statusLabel is how a status reads on a badge.
func statusLabel(s approval.Status) string {
	switch s {
	case approval.StatusAcknowledgedApproved:
		return "approved, delivering"
	case approval.StatusAcknowledgedRejected:
		return "rejected, delivering"
	case approval.StatusAcknowledgedCancelled:
		return "cancelled, delivering"
	case approval.StatusError:
		return "delivery failed"
	case approval.StatusChangesRequested:
		return "changes requested"
	}
	return s.String()
}

// shownStatus is a status as a badge shows it. A request in error knows
// which decision failed to be delivered (its previous status): it reads
// "approved — delivery failed", never "approved, delivering", which is what
// its previous status alone would say.
type shownStatus struct {
	Status approval.Status
	// Failed is the acknowledged status whose delivery failed, for a
	// request in error (StatusUnknown when not known).
	Failed approval.Status
}

// requestStatus returns how r's status is shown.
func requestStatus(r *approval.Request) shownStatus {
	return statusAfter(r.Status, r.PreviousStatus)
}

// statusAfter returns how status is shown when the status before it was
// previous (nil when unknown).
func statusAfter(status approval.Status, previous *approval.Status) shownStatus {
	s := shownStatus{Status: status}
	if status == approval.StatusError && previous != nil && previous.Acknowledged() {
		s.Failed = *previous
	}
	return s
}

// Label is the badge's text.
func (s shownStatus) Label() string {
	if s.Status == approval.StatusError {
		switch s.Failed {
		case approval.StatusAcknowledgedApproved:
			return "approved — delivery failed"
		case approval.StatusAcknowledgedRejected:
			return "rejected — delivery failed"
		case approval.StatusAcknowledgedCancelled:
			return "cancelled — delivery failed"
		}
	}
	return statusLabel(s.Status)
}

// Class is the badge's CSS class.
func (s shownStatus) Class() string { return statusClass(s.Status) }

// deadlineClass is the CSS class of a request's deadline: overdue when it
// passed on a request that was still open (or expired because of it), soon
// when it is less than a day away.
func deadlineClass(now time.Time, r *approval.Request) string {
	if r.Deadline == nil {
		return ""
	}
	// A request sent back to its requester still expires at its deadline.
	open := r.Status == approval.StatusPending || r.Status == approval.StatusError || r.Status == approval.StatusChangesRequested
	switch {
	case !r.Deadline.After(now) && (open || r.Status == approval.StatusExpired):
		return "deadline overdue"
	case open && r.Deadline.Sub(now) < 24*time.Hour:
		return "deadline soon"
	}
	return "deadline"
}

// actionVerb says what an actor did, for the history timeline.
func actionVerb(a approval.Action) string {
	switch a {
	case approval.ActionCreate:
		return "created the request"
	case approval.ActionEdit:
		return "edited the request"
	case approval.ActionComment:
		return "changed the comment"
	case approval.ActionReview:
		return "reviewed"
	case approval.ActionApprove:
		return "approved"
	case approval.ActionReject:
		return "rejected"
	case approval.ActionCancel:
		return "cancelled"
	case approval.ActionExpire:
		return "expired the request"
	case approval.ActionDelivered:
		return "delivered the decision"
	case approval.ActionDeliveryFailed:
		return "could not deliver the decision"
	case approval.ActionRedeliver:
		return "asked to deliver the decision again"
	case approval.ActionRemind:
		return "reminded the reviewers"
	case approval.ActionOutcome:
		return "recorded the outcome"
	case approval.ActionRequestChanges:
		return "requested changes"
	case approval.ActionResubmit:
		return "resubmitted the request"
	case approval.ActionRevoke:
		return "revoked the approval"
	}
	return string(a)
}

// maxJSONDepth is how deep the payload tree goes; deeper values are shown
// as compact JSON text.
const maxJSONDepth = 24

// jsonNode is a JSON value parsed with its members in their original order.
type jsonNode struct {
	Kind  string // object, array, string, number, bool, null, or raw (too deep)
	Key   string // the member name, in an object
	Index int    // the position, in an array (-1 elsewhere)
	Text  string // the value of a scalar (strings unquoted), or the JSON of a raw node
	Items []*jsonNode
	Depth int
}

// Label names the node in its parent: "key", "[3]", or "" at the root.
func (n *jsonNode) Label() string {
	switch {
	case n.Index >= 0:
		return "[" + strconv.Itoa(n.Index) + "]"
	case n.Depth > 0:
		return n.Key
	}
	return ""
}

// Container reports whether n is an object or an array.
func (n *jsonNode) Container() bool { return n.Kind == "object" || n.Kind == "array" }

// Summary describes a container's size: "3 keys", "1 item".
func (n *jsonNode) Summary() string {
	c := len(n.Items)
	if n.Kind == "object" {
		return fmt.Sprintf("{%d %s}", c, plural(c, "key", "keys"))
	}
	return fmt.Sprintf("[%d %s]", c, plural(c, "item", "items"))
}

// Open reports whether the container starts unfolded: the top three levels.
func (n *jsonNode) Open() bool { return n.Depth < 3 }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// parseJSON parses raw into a tree that keeps the order of object members.
func parseJSON(raw []byte) (*jsonNode, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return parseNode(dec, 0)
}

func parseNode(dec *json.Decoder, depth int) (*jsonNode, error) {
	if depth > maxJSONDepth {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		return &jsonNode{Kind: "raw", Text: string(raw), Depth: depth, Index: -1}, nil
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n := &jsonNode{Depth: depth, Index: -1}
	switch v := tok.(type) {
	case json.Delim:
		n.Kind = "object"
		if v == '[' {
			n.Kind = "array"
		}
		for i := 0; dec.More(); i++ {
			key := ""
			if n.Kind == "object" {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ = kt.(string)
			}
			child, err := parseNode(dec, depth+1)
			if err != nil {
				return nil, err
			}
			child.Key = key
			if n.Kind == "array" {
				child.Index = i
			}
			n.Items = append(n.Items, child)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n.Kind, n.Text = "string", v
	case json.Number:
		n.Kind, n.Text = "number", v.String()
	case bool:
		n.Kind, n.Text = "bool", strconv.FormatBool(v)
	case nil:
		n.Kind, n.Text = "null", "null"
	}
	return n, nil
}

// payloadDisplay is how the request page shows a payload: a table when it
// is a flat object, else a tree of collapsible sections.
type payloadDisplay struct {
	Flat  bool
	Root  *jsonNode
	Raw   string // pretty JSON, when the payload does not parse (never expected)
	Empty bool
}

// payloadView prepares raw for display.
func payloadView(raw json.RawMessage) payloadDisplay {
	root, err := parseJSON(raw)
	if err != nil {
		return payloadDisplay{Raw: string(raw)}
	}
	if root.Kind == "object" && len(root.Items) == 0 {
		return payloadDisplay{Empty: true, Root: root}
	}
	flat := root.Kind == "object"
	for _, it := range root.Items {
		if it.Container() || it.Kind == "raw" {
			flat = false
		}
	}
	return payloadDisplay{Flat: flat, Root: root}
}

// fieldChange is one changed field of a history entry, ready to show.
type fieldChange struct {
	Field  string
	Before string
	After  string
	// Long values are shown folded, as pretty JSON.
	Long bool
	// Status changes show badges.
	BeforeStatus, AfterStatus approval.Status
	BeforeBadge, AfterBadge   shownStatus
	IsStatus                  bool
	Created                   bool // a creation: there is no "before"
}

// entryView is a history entry on the timeline.
type entryView struct {
	approval.HistoryEntry
	Changes []fieldChange
	// Reviews are the reviews the change added.
	Reviews []approval.Review
	// Voided counts the reviews the change made void.
	Voided int
}

// hiddenFields are not listed as changes on the timeline: they are shown
// otherwise (reviews), only restate another change (previous_status,
// decided_at), or are the whole request on creation.
var hiddenFields = []string{"reviews", "previous_status", "decided_at", "next_reminder_at"}

// longValue is the length from which a value is shown folded.
const longValue = 80

// viewEntries prepares history entries for the timeline, newest first.
func viewEntries(entries []approval.HistoryEntry) []entryView {
	out := make([]entryView, 0, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, viewEntry(entries[i]))
	}
	return out
}

func viewEntry(e approval.HistoryEntry) entryView {
	v := entryView{HistoryEntry: e}
	var changes map[string]struct {
		Before json.RawMessage `json:"before"`
		After  json.RawMessage `json:"after"`
	}
	if json.Unmarshal(e.Changes, &changes) != nil {
		return v
	}
	if rc, ok := changes["reviews"]; ok {
		var before, after []approval.Review
		_ = json.Unmarshal(rc.Before, &before)
		_ = json.Unmarshal(rc.After, &after)
		if len(after) > len(before) {
			v.Reviews = after[len(before):]
		}
		for i := range min(len(before), len(after)) {
			if after[i].Void && !before[i].Void {
				v.Voided++
			}
		}
	}
	if e.Action == approval.ActionCreate {
		return v // the page shows what the request was created with
	}
	fields := make([]string, 0, len(changes))
	for f := range changes {
		if !slices.Contains(hiddenFields, f) {
			fields = append(fields, f)
		}
	}
	slices.SortFunc(fields, func(a, b string) int {
		// The status first: it is what a change is mostly about.
		if a == "status" || b == "status" {
			return boolCmp(b == "status", a == "status")
		}
		return strings.Compare(a, b)
	})
	// The previous status, on each side of the change, tells which
	// decision a request in error failed to deliver.
	var prevBefore, prevAfter *approval.Status
	if pc, ok := changes["previous_status"]; ok {
		_ = json.Unmarshal(pc.Before, &prevBefore)
		_ = json.Unmarshal(pc.After, &prevAfter)
	}
	for _, f := range fields {
		c := changes[f]
		fc := fieldChange{Field: f, Created: len(c.Before) == 0}
		if f == "status" {
			var b, a approval.Status
			if json.Unmarshal(c.Before, &b) == nil && json.Unmarshal(c.After, &a) == nil {
				fc.IsStatus, fc.BeforeStatus, fc.AfterStatus = true, b, a
				fc.BeforeBadge, fc.AfterBadge = statusAfter(b, prevBefore), statusAfter(a, prevAfter)
			}
		}
		fc.Before, fc.After = displayJSON(c.Before), displayJSON(c.After)
		fc.Long = utf8.RuneCountInString(fc.Before) > longValue || utf8.RuneCountInString(fc.After) > longValue ||
			strings.Contains(fc.Before, "\n") || strings.Contains(fc.After, "\n")
		if fc.Long {
			fc.Before, fc.After = displayPretty(c.Before), displayPretty(c.After)
		}
		v.Changes = append(v.Changes, fc)
	}
	return v
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// displayJSON shows a JSON value for people: strings without quotes, null
// and empty values as "—", anything else as compact JSON.
func displayJSON(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	switch s {
	case "", "null", `""`, "[]", "{}":
		return "—"
	}
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return s
	}
	return b.String()
}

// displayPretty is displayJSON with objects and arrays indented.
func displayPretty(raw json.RawMessage) string {
	s := displayJSON(raw)
	if !strings.HasPrefix(s, "{") && !strings.HasPrefix(s, "[") {
		return s
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return s
	}
	return b.String()
}

// visible returns s as HTML in which every invisible character (see
// approval.Invisible: controls, bidirectional overrides, zero-width
// characters…) is replaced by its JSON escape, "\u202e", in a span of class
// "invisible". Payload values are data and may hold such characters; shown
// as they are, they would hide or reorder what a reviewer reads ("gnp.exe"
// behind U+202E shows as "exe.png"), so the page shows where they are
// instead. Line breaks and tabs are escaped too, as in JSON.
func visible(s string) template.HTML { return escapeInvisible(s, false) }

// visibleLines is visible keeping line breaks and tabs, for text shown as
// preformatted lines (prose, indented JSON).
func visibleLines(s string) template.HTML { return escapeInvisible(s, true) }

func escapeInvisible(s string, keepLines bool) template.HTML {
	if !strings.ContainsFunc(s, approval.Invisible) {
		return template.HTML(template.HTMLEscapeString(s))
	}
	var b strings.Builder
	start := 0
	for i, r := range s {
		if !approval.Invisible(r) || (keepLines && (r == '\n' || r == '\t' || r == '\r')) {
			continue
		}
		b.WriteString(template.HTMLEscapeString(s[start:i]))
		start = i + utf8.RuneLen(r)
		fmt.Fprintf(&b, `<span class="invisible" title="U+%04X, an invisible character">%s</span>`, r, jsonEscape(r))
	}
	b.WriteString(template.HTMLEscapeString(s[start:]))
	return template.HTML(b.String())
}

// jsonEscape returns the JSON escape of r: \n, \t and \r, \uXXXX, or a
// surrogate pair of them beyond the Basic Multilingual Plane.
func jsonEscape(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\t':
		return `\t`
	case '\r':
		return `\r`
	}
	if r > 0xFFFF {
		hi, lo := utf16.EncodeRune(r)
		return fmt.Sprintf(`\u%04x\u%04x`, hi, lo)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// decisionClass is the CSS class of a review's decision badge.
func decisionClass(d approval.Decision) string {
	switch d {
	case approval.DecisionApprove:
		return "badge approved"
	case approval.DecisionReject:
		return "badge rejected"
	case approval.DecisionRequestChanges:
		return "badge changes"
	}
	return "badge neutral"
}

// decisionLabel is how a review's decision reads on its badge.
func decisionLabel(d approval.Decision) string {
	switch d {
	case approval.DecisionApprove:
		return "approved"
	case approval.DecisionReject:
		return "rejected"
	case approval.DecisionRequestChanges:
		return "changes requested"
	}
	return string(d)
}

// shortDigest shortens an item's digest for a table cell: the algorithm
// and the first 12 hex digits ("sha256:0123456789ab…"); the page shows the
// whole value beside it for copying.
func shortDigest(d string) string {
	alg, hexPart, ok := strings.Cut(d, ":")
	if !ok || len(hexPart) <= 12 {
		return d
	}
	return alg + ":" + hexPart[:12] + "…"
}

// humanSize says a size in bytes the way people read it: "512 B",
// "1.5 KiB", "3.0 MiB".
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
