// Package celrule compiles and evaluates the CEL expressions of policies:
// a rule's auto_approve_if and auto_reject_if, and a stored policy's match.
//
// An expression sees six variables:
//
//	payload       dyn           the request's JSON payload, decoded (integers as int, other numbers as double)
//	requester     string        the requester's principal
//	groups        list(string)  the requester's groups
//	service_rule  string        the request's service rule ("" when none)
//	items         list(map)     the request's items: id, name, media_type, size (int), digest, metadata (dyn, null when none)
//	now           timestamp     the time of the evaluation, as the engine's clock gives it
//
// and must give a bool (an expression of type dyn is accepted, and any value
// but a bool is an evaluation error). Only CEL's standard library is
// available. Evaluation is bounded: a cost limit (MaxCost) and the context's
// deadline stop it. Every evaluation error (a missing key, a type error at
// run time, the cost limit, the deadline) is returned, never read as false:
// callers fail closed and decide nothing.
package celrule
