package httpapi

import (
	"net/http"

	"approvald/approval"
	"approvald/gateway/calllog"
)

// policyBody is the body of POST /v1/policies and PUT /v1/policies/{name}.
type policyBody struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Match selects the policy for creates that name none (CEL); among
	// the policies that match, the highest Priority applies.
	Match    string          `json:"match"`
	Priority int             `json:"priority"`
	Policy   approval.Policy `json:"policy"`
}

// stored returns the stored policy in, named name.
func (in policyBody) stored(name string) approval.StoredPolicy {
	return approval.StoredPolicy{Name: name, Description: in.Description, Match: in.Match, Priority: in.Priority, Policy: in.Policy}
}

func readPolicy(w http.ResponseWriter, r *http.Request) (policyBody, error) {
	var in policyBody
	_, err := jsonBody.ReadJSON(w, r, &in)
	return in, err
}

func writePolicy(w http.ResponseWriter, status int, sp *approval.StoredPolicy) {
	w.Header().Set("ETag", etag(sp.Version))
	writeJSON(w, status, sp)
}

func (s *server) createPolicy(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	in, err := readPolicy(w, r)
	if err != nil {
		return err
	}
	sp, err := s.Engine.CreatePolicy(r.Context(), p, in.stored(in.Name))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/policies/"+sp.Name)
	writePolicy(w, http.StatusCreated, sp)
	return nil
}

func (s *server) listPolicies(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if err := unpaged(r); err != nil {
		return err
	}
	items, err := s.Engine.Policies(r.Context())
	if err != nil {
		return err
	}
	if items == nil {
		items = []approval.StoredPolicy{}
	}
	writeJSON(w, http.StatusOK, listPage[approval.StoredPolicy]{Items: items})
	return nil
}

func (s *server) getPolicy(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	sp, err := s.Engine.Policy(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writePolicy(w, http.StatusOK, sp)
	return nil
}

// replacePolicy replaces a stored policy's description and rules; a name
// in the body must match the path. Open requests keep their own copy.
func (s *server) replacePolicy(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	in, err := readPolicy(w, r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if in.Name != "" && in.Name != name {
		var v approval.Validation
		v.Add("name", "cannot be changed; create a new policy instead")
		return v.Err()
	}
	sp, err := s.Engine.ReplacePolicy(r.Context(), p, name, in.stored(""), expect)
	if err != nil {
		return err
	}
	writePolicy(w, http.StatusOK, sp)
	return nil
}

func (s *server) deletePolicy(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if err := s.Engine.DeletePolicy(r.Context(), p, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// gatewayCalls lists the CR8TOR gateway's call log, newest first.
func (s *server) gatewayCalls(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	q := r.URL.Query()
	var v approval.Validation
	f := calllog.Filter{ProjectName: q.Get("project_name"), StartTime: q.Get("project_start_time"), Limit: parseLimit(&v, q.Get("limit"))}
	f.Before = parseNumberCursor(&v, q.Get("cursor"))
	if err := v.Err(); err != nil {
		return err
	}
	f.Limit++
	if s.GatewayLog == nil {
		return approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "the gateway call log is not configured")
	}
	calls, err := s.GatewayLog.ListGatewayCalls(r.Context(), f)
	if err != nil {
		return err
	}
	page := listPage[calllog.Record]{Items: calls}
	if page.Items == nil {
		page.Items = []calllog.Record{}
	}
	if len(calls) == f.Limit {
		page.Items = calls[:f.Limit-1]
		page.NextCursor = numberCursor(page.Items[len(page.Items)-1].ID)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
