// Package approval is the domain of approvald: the approval request, its
// statuses and the one transition table that decides every change, review
// policies, the hash-chained history and the error vocabulary shared by every
// adapter.
//
// The package does no I/O. Every operation takes the current time from its
// caller and returns a Change — the history entry and the outbox event that the
// caller must persist in the same transaction as the new state of the request.
package approval
