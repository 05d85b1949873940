package approval

import "slices"

// Scope is a permission carried by a credential.
type Scope string

// The scopes. Admin implies every other scope.
const (
	ScopeCreate Scope = "approvals:create"
	ScopeReview Scope = "approvals:review"
	ScopeRead   Scope = "approvals:read"
	ScopeAdmin  Scope = "admin"
	// ScopeAudit reads everything — requests, their history, the event
	// stream, and the configuration admins manage (API keys without their
	// secrets, service rules, policies) — and changes nothing.
	ScopeAudit Scope = "audit"
	// ScopeGateway lets an API key call the CR8TOR gateway routes
	// (/project/validate, /project/package, /project/publish) as x-api-key.
	ScopeGateway Scope = "gateway"
)

// Scopes returns every scope a credential may hold.
func Scopes() []Scope {
	return []Scope{ScopeCreate, ScopeReview, ScopeRead, ScopeAdmin, ScopeAudit, ScopeGateway}
}

// ValidScope reports whether s is a known scope.
func ValidScope(s Scope) bool { return slices.Contains(Scopes(), s) }

// Principal is an authenticated caller: a service ("svc:billing") or a person
// ("user:alice"), with the groups and scopes its credential carries.
type Principal struct {
	ID     string
	Groups []string
	Scopes []Scope
}

// System is the principal of changes approvald makes by itself, such as expiry.
var System = Principal{ID: "system:approvald"}

// Has reports whether p holds scope s; admin holds every scope.
func (p Principal) Has(s Scope) bool {
	return slices.Contains(p.Scopes, s) || slices.Contains(p.Scopes, ScopeAdmin)
}

// IsAdmin reports whether p holds the admin scope.
func (p Principal) IsAdmin() bool { return slices.Contains(p.Scopes, ScopeAdmin) }

// InGroup reports whether p belongs to group g.
func (p Principal) InGroup(g string) bool { return slices.Contains(p.Groups, g) }
