// Package legacy serves the endpoints of the older "stash" approval service
// — GET /status, GET /request, GET /requests, POST /request, PUT /request —
// with their wire format (numeric statuses, integer service rule ids,
// Authorization: <raw key>, {"error": "..."} bodies), on the same engine as
// the native API. It adapts; every rule it applies is the engine's.
//
// The old service's defects are not reproduced: all three decisions work,
// errors have proper statuses, a failed delivery never touches the comment,
// unknown query values are refused. docs/migrating-from-stash.md is the
// user-facing account of what is the same and what changed.
//
// # Statuses the legacy format cannot express
//
// The legacy enum stops at expired (9). The two statuses added since are
// shown as the legacy status a client acting on approvals can safely take
// them for (WireStatus), never as approved (3):
//
//   - changes_requested (10) is shown as pending (2), and GET /requests
//     lists it with the pending requests: it is not decided. A PUT with a
//     decision is refused with 409 until the requester resubmits it, which
//     the legacy API cannot do (the native API, approvalctl and the UI
//     can); a PUT may still edit its fields.
//   - revoked (11) is shown as rejected (4): an approval taken back by a
//     reviewer or an administrator is a decision against the request, and
//     a client that already acted on the approval must undo it. Cancelled
//     (5) would say the requester withdrew it, which a client may read as
//     "nothing to undo". A rule in the legacy callback format receives the
//     revocation as {"id": …, "status": 4}, after the {"status": 3} of the
//     approval.
//
// The native API (/v1) shows both by name.
package legacy
