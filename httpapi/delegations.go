package httpapi

import (
	"net/http"
	"strconv"

	"approvald/approval"
)

// delegationBody is the body of POST /v1/delegations. A reviewer leaves
// out delegator and delegator_groups (it delegates its own eligibility,
// with the groups its credential carries); an admin may give them to
// delegate anyone's.
type delegationBody struct {
	Delegator       string   `json:"delegator"`
	DelegatorGroups []string `json:"delegator_groups"`
	Delegate        string   `json:"delegate"`
	StartsAt        string   `json:"starts_at"`
	EndsAt          string   `json:"ends_at"`
	Reason          string   `json:"reason"`
}

func delegationPath(id string) string { return "/v1/delegations/" + id }

func (s *server) createDelegation(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	var in delegationBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	var v approval.Validation
	d := approval.Delegation{Delegator: in.Delegator, DelegatorGroups: in.DelegatorGroups, Delegate: in.Delegate, Reason: in.Reason}
	if in.StartsAt != "" {
		if t := parseTime(&v, "starts_at", in.StartsAt); t != nil {
			d.Starts = *t
		}
	}
	if in.EndsAt == "" {
		v.Add("ends_at", "is required")
	} else if t := parseTime(&v, "ends_at", in.EndsAt); t != nil {
		d.Ends = *t
	}
	if err := v.Err(); err != nil {
		return err
	}
	created, err := s.Engine.CreateDelegation(r.Context(), p, d)
	if err != nil {
		return err
	}
	w.Header().Set("Location", delegationPath(created.ID))
	writeJSON(w, http.StatusCreated, created)
	return nil
}

// listDelegations lists delegations, newest first: the caller's own (given
// or received), or, for admins and auditors, everyone's or those of
// ?principal=. ?active=true keeps those in force now.
func (s *server) listDelegations(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	q := r.URL.Query()
	var v approval.Validation
	f := approval.DelegationFilter{Principal: q.Get("principal"), Limit: parseLimit(&v, q.Get("limit"))}
	approval.CheckLine(&v, "principal", f.Principal, approval.MaxPrincipalLen, false)
	if a := q.Get("active"); a != "" {
		active, err := strconv.ParseBool(a)
		if err != nil {
			v.Add("active", "must be true or false")
		} else if active {
			f.ActiveAt = s.Engine.Now()
		}
	}
	for name := range q {
		switch name {
		case "principal", "active", "limit":
		default:
			v.Add(name, "is not a filter of this list (principal, active and limit are)")
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	items, err := s.Engine.Delegations(r.Context(), p, f)
	if err != nil {
		return err
	}
	if items == nil {
		items = []approval.Delegation{}
	}
	writeJSON(w, http.StatusOK, listPage[approval.Delegation]{Items: items})
	return nil
}

func (s *server) getDelegation(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	d, err := s.Engine.Delegation(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// revokeDelegation ends a delegation at once (its delegator, its delegate
// or an admin); revoking a revoked one changes nothing and answers the same.
func (s *server) revokeDelegation(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if _, err := optionalBody.ReadJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	d, err := s.Engine.RevokeDelegation(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}
