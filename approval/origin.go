package approval

import "strings"

// Origin names the part of approvald that opened a request on behalf of
// another system: the API's callers open theirs with OriginAPI; an adapter
// that speaks for a system (the CR8TOR gateway, the GitHub App) opens its
// own with its origin. An origin is set in the process, never from a wire
// body, and it alone may use the subjects and service rules that the
// adapter acts on: otherwise anyone allowed to create requests could open
// one under a run's subject (or for the GitHub App's rule) with a policy
// of their choosing, and its approval would let the run publish (or
// deploy).
type Origin string

// The origins.
const (
	// OriginAPI is every request a caller of an API opens.
	OriginAPI Origin = ""
	// OriginCR8TOR is the CR8TOR gateway's approval step: subjects
	// "cr8tor:" and "cr8tor#".
	OriginCR8TOR Origin = "cr8tor"
	// OriginGitHub is the GitHub App: subjects "github:" and the service
	// rules of format github.
	OriginGitHub Origin = "github"
)

// reservedSubjects are the subject prefixes only one origin may use.
var reservedSubjects = []struct {
	prefix string
	origin Origin
}{
	{"cr8tor:", OriginCR8TOR},
	{"cr8tor#", OriginCR8TOR},
	{"github:", OriginGitHub},
}

// SubjectOrigin returns the origin that alone may open requests with
// subject s, and ok false when any may. The prefix is compared without
// regard to case, so that "CR8TOR:" reserves as "cr8tor:" does.
func SubjectOrigin(s string) (o Origin, ok bool) {
	for _, r := range reservedSubjects {
		if len(s) >= len(r.prefix) && strings.EqualFold(s[:len(r.prefix)], r.prefix) {
			return r.origin, true
		}
	}
	return OriginAPI, false
}

// RuleOrigin returns the origin that alone may open requests for (or move
// requests to) a service rule of format f, and ok false when any may.
func RuleOrigin(f RuleFormat) (o Origin, ok bool) {
	if f == FormatGitHub {
		return OriginGitHub, true
	}
	return OriginAPI, false
}

// originName is how an error names an origin to the caller.
func originName(o Origin) string {
	switch o {
	case OriginCR8TOR:
		return "the CR8TOR gateway"
	case OriginGitHub:
		return "the GitHub App"
	}
	return "the API"
}

// CheckRuleOrigin adds to v, under field, the refusal of a request of
// origin o naming a service rule of format f that another origin owns.
func CheckRuleOrigin(v *Validation, field string, o Origin, f RuleFormat) {
	if want, ok := RuleOrigin(f); ok && want != o {
		v.Add(field, "names a service rule of format %s, which only %s opens requests for", f, originName(want))
	}
}

// checkSubjectOrigin adds to v the refusal of a request of origin o whose
// subject another origin reserves.
func checkSubjectOrigin(v *Validation, o Origin, subject string) {
	if want, ok := SubjectOrigin(subject); ok && want != o {
		v.Add("subject", "subjects starting with %q are reserved for the requests %s opens", subject[:strings.IndexAny(subject, ":#")+1], originName(want))
	}
}
