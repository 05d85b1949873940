package rocrate

import (
	"approvald/approval"
	"approvald/gateway"
	"approvald/receipt"
)

// Maker makes the release records of CR8TOR publications, each with the
// receipt Receipts issues for it, its @ids under BaseURL and the data's
// licence License (see Input). The API and the UI serve what one Maker
// makes, so both answer the same record.
type Maker struct {
	Receipts *receipt.Issuer
	BaseURL  string
	License  string
}

// Record returns the release record of r. It returns a KindNotFound error
// when r is not a CR8TOR publication whose run can be named, a
// KindConflict error while r is undecided (it has no receipt) or nothing
// has been published for it (a release record names what was released),
// and a KindUnavailable one when m has no issuer.
func (m Maker) Record(r *approval.Request) ([]byte, error) {
	run, ok := gateway.RunOf(r)
	if !ok {
		return nil, approval.Errorf(approval.KindNotFound, approval.CodeNotFound,
			"request %s is not a CR8TOR publication: only the requests of the CR8TOR gateway's approval step have a release record", r.ID)
	}
	if m.Receipts == nil {
		return nil, approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "receipts are not configured")
	}
	env, err := m.Receipts.Issue(r)
	if err != nil {
		return nil, err
	}
	files := gateway.PublishedFiles(r)
	if len(files) == 0 {
		return nil, approval.Errorf(approval.KindConflict, approval.CodeInvalidTransition,
			"nothing has been published for request %s (%s) yet: a release record names the files published", r.ID, run)
	}
	return Build(Input{Request: r, Run: run, Files: files, Receipt: env, BaseURL: m.BaseURL, License: m.License})
}
