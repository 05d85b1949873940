package receipt

import "approvald/approval"

// Issuer makes the receipts a server serves: Build with the subjects Extra
// adds, signed by Signer. Keys is the set the server publishes (its JWKS):
// the signer's key and the older keys kept to verify earlier receipts.
type Issuer struct {
	Signer *Signer
	Keys   KeySet
	// Extra returns subjects beyond the payload and the items, such as
	// the files a CR8TOR publication produced; nil adds none.
	Extra func(*approval.Request) []Subject
}

// Issue returns the signed receipt of the decided request r. It returns
// Build's errors: a KindConflict error while r is undecided.
func (is *Issuer) Issue(r *approval.Request) (Envelope, error) {
	var extra []Subject
	if is.Extra != nil {
		extra = is.Extra(r)
	}
	st, err := Build(r, extra...)
	if err != nil {
		return Envelope{}, err
	}
	env, err := is.Signer.Sign(st)
	if err != nil {
		return Envelope{}, approval.Internal(err)
	}
	return env, nil
}
