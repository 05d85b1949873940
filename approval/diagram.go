package approval

import (
	"fmt"
	"slices"
	"strings"
)

// Diagram returns the transition table as a Mermaid state diagram, for the
// docs. Decisions are drawn to the acknowledged_* statuses; the note says
// that without a service rule they settle at once in the final status.
func Diagram() string {
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	b.WriteString("    [*] --> pending: create\n")
	for _, s := range Statuses() {
		st, ok := table[s]
		if !ok {
			continue
		}
		var lines []string
		for _, a := range AllowedActions(s) {
			to := st.actions[a]
			switch to {
			case 0:
				to = s
			case toPrevious:
				for _, ack := range []Status{StatusAcknowledgedApproved, StatusAcknowledgedRejected, StatusAcknowledgedCancelled} {
					lines = append(lines, fmt.Sprintf("    %s --> %s: %s (if it failed there)", s, ack, a))
				}
				continue
			}
			lines = append(lines, fmt.Sprintf("    %s --> %s: %s", s, to, a))
		}
		slices.Sort(lines)
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	for _, s := range Statuses() {
		if s.Final() {
			fmt.Fprintf(&b, "    %s --> [*]\n", s)
		}
	}
	b.WriteString("    note right of pending: without a service rule, approve, reject and cancel\\nlead straight to approved, rejected and cancelled\n")
	return b.String()
}
