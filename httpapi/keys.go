package httpapi

import (
	"net/http"

	"approvald/approval"
	"approvald/auth"
)

type createKeyBody struct {
	Name      string           `json:"name"`
	Scopes    []approval.Scope `json:"scopes"`
	Groups    []string         `json:"groups"`
	ExpiresAt *string          `json:"expires_at"`
	// Contact is the address notifications to the key's principal go to,
	// unless an admin sets another in the directory.
	Contact string `json:"contact"`
}

// createdKey is an API key with its secret, shown only in the create response.
type createdKey struct {
	approval.APIKey
	Key string `json:"key"`
}

func (s *server) createKey(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	var in createKeyBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	nk := auth.NewKey{Name: in.Name, Scopes: in.Scopes, Groups: in.Groups}
	var v approval.Validation
	if in.ExpiresAt != nil {
		nk.ExpiresAt = parseTime(&v, "expires_at", *in.ExpiresAt)
	}
	if _, ok := approval.ValidEmail(in.Contact); in.Contact != "" && !ok {
		v.Add("contact", "must be an email address such as billing-team@example.com")
	}
	if err := v.Err(); err != nil {
		return err
	}
	key, secret, err := s.Keys.Create(r.Context(), nk)
	if err != nil {
		return err
	}
	if in.Contact != "" {
		// The key exists and its secret is shown only now: a contact that
		// could not be stored is logged, not a failure that would lose it.
		if err := s.Engine.RememberContact(r.Context(), "svc:"+key.Name, in.Contact, approval.ContactAPIKey); err != nil {
			s.Logger.ErrorContext(r.Context(), "storing the contact of a new API key", "key", key.ID, "error", err)
		}
	}
	w.Header().Set("Location", "/v1/api-keys/"+key.ID)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdKey{APIKey: key, Key: secret})
	return nil
}

// rotateKey gives a live key a new secret, shown only in this response;
// the old secret stops working at once on this instance and within the key
// cache's TTL on others.
func (s *server) rotateKey(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	key, secret, err := s.Keys.Rotate(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, createdKey{APIKey: key, Key: secret})
	return nil
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if err := unpaged(r); err != nil {
		return err
	}
	keys, err := s.Keys.List(r.Context())
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []approval.APIKey{}
	}
	writeJSON(w, http.StatusOK, listPage[approval.APIKey]{Items: keys})
	return nil
}

func (s *server) revokeKey(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if err := s.Keys.Revoke(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
