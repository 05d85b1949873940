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
package legacy
