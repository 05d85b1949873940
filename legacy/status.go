package legacy

import "approvald/approval"

// WireStatus returns the numeric status legacy clients see for s. The
// legacy enum has the codes 1 to 9; the statuses added after it are shown
// as the legacy status that a client acting on approvals may safely take
// them for:
//
//   - changes_requested (10) as pending (2): the request is not decided,
//     and the requester's resubmit brings it back to pending;
//   - revoked (11) as rejected (4): the approval was taken back by a
//     reviewer or an administrator. A revoked approval must never look
//     approved, and of the two final statuses that say "do not proceed",
//     rejected is the decision against the request; cancelled (5) says
//     the requester withdrew it, which a client may take for "nothing to
//     undo".
//
// The dispatcher's legacy-format callback reports a revocation with the
// same code (package delivery's tests hold the two to each other). Any
// other status is its own code.
func WireStatus(s approval.Status) int {
	switch s {
	case approval.StatusChangesRequested:
		return int(approval.StatusPending)
	case approval.StatusRevoked:
		return int(approval.StatusRejected)
	}
	return int(s)
}

// pendingStatuses are the statuses GET /requests lists by default (default
// absent or 0): those WireStatus shows as pending.
var pendingStatuses = []approval.Status{approval.StatusPending, approval.StatusChangesRequested}
