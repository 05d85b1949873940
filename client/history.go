package client

import (
	"approvald/approval"
)

// VerifyChain checks that entries are the whole, unaltered history of one
// request from its creation: sequence numbers 1..n without gaps, each entry
// chained to the one before, every hash matching its contents. It returns
// an error naming the first entry that fails. It uses the same code as the
// server, so both agree on what a valid chain is.
func VerifyChain(entries []HistoryEntry) error {
	chain := make([]approval.HistoryEntry, len(entries))
	for i, e := range entries {
		chain[i] = approval.HistoryEntry{
			RequestID: e.RequestID, Seq: e.Seq, Actor: e.Actor, Action: approval.Action(e.Action),
			Changes: e.Changes, At: e.At, PrevHash: e.PrevHash, Hash: e.Hash,
		}
	}
	return approval.VerifyChain(chain)
}
