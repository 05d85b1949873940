package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/auth"
)

// rulesData is the data of the service rules page.
type rulesData struct {
	Rules    []approval.ServiceRule
	Policies []string
	// Created is the rule just created and Secret its signing secret,
	// shown this once.
	Created *approval.ServiceRule
	Secret  string
	Done    string
	Error   string
	Form    map[string]string // what was typed into a refused form
}

// rules lists the service rules, with the form that creates one.
func (s *server) rules(w http.ResponseWriter, r *http.Request, sess *session) error {
	d := rulesData{}
	if r.URL.Query().Get("done") == "delete" {
		d.Done = "The rule is deleted."
	}
	return s.renderRules(w, r, sess, http.StatusOK, d)
}

func (s *server) renderRules(w http.ResponseWriter, r *http.Request, sess *session, status int, d rulesData) error {
	var err error
	if d.Rules, err = s.Engine.Rules(r.Context()); err != nil {
		return err
	}
	pols, err := s.Engine.Policies(r.Context())
	if err != nil {
		return err
	}
	for _, p := range pols {
		d.Policies = append(d.Policies, p.Name)
	}
	s.render(w, r, sess, status, "rules", "Service rules", d)
	return nil
}

// createRule creates a service rule and shows its signing secret once
// (the answer is never cached).
func (s *server) createRule(w http.ResponseWriter, r *http.Request, sess *session) error {
	form := trimmedForm(r, "name", "url", "format", "timeout", "max_attempts", "policy")
	var v approval.Validation
	rule := approval.ServiceRule{
		Name: form["name"], URL: form["url"], Format: approval.RuleFormat(form["format"]),
		APIKey: strings.TrimSpace(r.PostFormValue("api_key")), Policy: form["policy"],
	}
	if t := form["timeout"]; t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			v.Add("timeout", "must be a duration such as 10s or 1500ms")
		}
		rule.Timeout = d
	}
	if a := form["max_attempts"]; a != "" {
		n, err := strconv.Atoi(a)
		if err != nil {
			v.Add("max_attempts", "must be a whole number")
		}
		rule.MaxAttempts = n
	}
	err := v.Err()
	var created *approval.ServiceRule
	if err == nil {
		created, err = s.Engine.CreateRule(r.Context(), sess.P, rule)
	}
	if err != nil {
		if k := approval.KindOf(err); k != approval.KindInvalid && k != approval.KindConflict {
			return err
		}
		return s.renderRules(w, r, sess, statusOf(err), rulesData{Error: approval.AsError(err).Message, Form: form})
	}
	d := rulesData{Created: created}
	if created.Format == approval.FormatStandard {
		d.Secret = created.Secret
	}
	return s.renderRules(w, r, sess, http.StatusCreated, d)
}

// deleteRule deletes a service rule that no open request names.
func (s *server) deleteRule(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := s.Engine.DeleteRule(r.Context(), sess.P, r.PathValue("name")); err != nil {
		if approval.KindOf(err) == approval.KindConflict {
			return s.renderRules(w, r, sess, http.StatusConflict, rulesData{Error: approval.AsError(err).Message})
		}
		return err
	}
	return redirect(w, r, "/ui/admin/rules?done=delete")
}

// keysData is the data of the API keys page.
type keysData struct {
	Keys   []approval.APIKey
	Scopes []approval.Scope
	// Created is the key just created or rotated and Secret its secret,
	// shown this once.
	Created *approval.APIKey
	Secret  string
	Rotated bool
	Done    string
	Error   string
	Form    map[string]string
	Now     time.Time
}

// Live reports whether k works now.
func (d keysData) Live(k approval.APIKey) bool { return k.RevokedAt == nil && !k.Expired(d.Now) }

// keys lists the API keys, revoked ones last, with the form that creates one.
func (s *server) keys(w http.ResponseWriter, r *http.Request, sess *session) error {
	d := keysData{}
	if r.URL.Query().Get("done") == "revoke" {
		d.Done = "The key is revoked."
	}
	return s.renderKeys(w, r, sess, http.StatusOK, d)
}

func (s *server) renderKeys(w http.ResponseWriter, r *http.Request, sess *session, status int, d keysData) error {
	keys, err := s.Keys.List(r.Context())
	if err != nil {
		return err
	}
	d.Now = s.now()
	slices.SortStableFunc(keys, func(a, b approval.APIKey) int {
		return boolCmp(!d.Live(a), !d.Live(b))
	})
	d.Keys, d.Scopes = keys, approval.Scopes()
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, sess, status, "keys", "API keys", d)
	return nil
}

// createKey creates an API key and shows its secret once.
func (s *server) createKey(w http.ResponseWriter, r *http.Request, sess *session) error {
	form := map[string]string{"name": strings.TrimSpace(r.PostFormValue("name")), "groups": r.PostFormValue("groups"), "expires": r.PostFormValue("expires")}
	nk := auth.NewKey{Name: form["name"]}
	for _, sc := range r.PostForm["scopes"] {
		nk.Scopes = append(nk.Scopes, approval.Scope(sc))
		form["scope:"+sc] = "on"
	}
	for g := range strings.FieldsFuncSeq(form["groups"], func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		nk.Groups = append(nk.Groups, g)
	}
	var v approval.Validation
	if e := strings.TrimSpace(form["expires"]); e != "" {
		t, err := time.Parse("2006-01-02", e)
		if err != nil {
			v.Add("expires_at", "must be a date such as 2030-01-31")
		}
		t = t.Add(24*time.Hour - time.Second) // the end of that day, UTC
		nk.ExpiresAt = &t
	}
	err := v.Err()
	var (
		key    approval.APIKey
		secret string
	)
	if err == nil {
		key, secret, err = s.Keys.Create(r.Context(), nk)
	}
	if err != nil {
		if k := approval.KindOf(err); k != approval.KindInvalid && k != approval.KindConflict {
			return err
		}
		return s.renderKeys(w, r, sess, statusOf(err), keysData{Error: approval.AsError(err).Message, Form: form})
	}
	access.Logger(r.Context()).Info("API key created in the UI", "key_id", key.ID, "name", key.Name, "by", sess.P.ID)
	return s.renderKeys(w, r, sess, http.StatusCreated, keysData{Created: &key, Secret: secret})
}

// revokeKey revokes an API key.
func (s *server) revokeKey(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := s.Keys.Revoke(r.Context(), r.PathValue("id")); err != nil {
		if approval.KindOf(err) == approval.KindConflict {
			return s.renderKeys(w, r, sess, http.StatusConflict, keysData{Error: approval.AsError(err).Message})
		}
		return err
	}
	access.Logger(r.Context()).Info("API key revoked in the UI", "key_id", r.PathValue("id"), "by", sess.P.ID)
	return redirect(w, r, "/ui/admin/keys?done=revoke")
}

// rotateKey gives an API key a new secret and shows it once.
func (s *server) rotateKey(w http.ResponseWriter, r *http.Request, sess *session) error {
	key, secret, err := s.Keys.Rotate(r.Context(), r.PathValue("id"))
	if err != nil {
		if approval.KindOf(err) == approval.KindConflict {
			return s.renderKeys(w, r, sess, http.StatusConflict, keysData{Error: approval.AsError(err).Message})
		}
		return err
	}
	access.Logger(r.Context()).Info("API key rotated in the UI", "key_id", key.ID, "by", sess.P.ID)
	return s.renderKeys(w, r, sess, http.StatusOK, keysData{Created: &key, Secret: secret, Rotated: true})
}

// deliveriesData is the data of the delivery failures page.
type deliveriesData struct {
	Failed   []*approval.Request // in error: delivery gave up
	Retrying []*approval.Request // acknowledged, with failed attempts
	Done     string
}

// deliveryScan bounds the requests each part of the page looks at.
const deliveryScan = 100

// deliveries lists the requests whose decision could not be delivered,
// and those whose delivery is being retried.
func (s *server) deliveries(w http.ResponseWriter, r *http.Request, sess *session) error {
	ctx := r.Context()
	d := deliveriesData{}
	if r.URL.Query().Get("done") == "redeliver" {
		d.Done = "The decision will be delivered again."
	}
	var err error
	if d.Failed, _, err = s.Engine.List(ctx, approval.Filter{Statuses: []approval.Status{approval.StatusError}, Limit: deliveryScan}); err != nil {
		return err
	}
	acked, _, err := s.Engine.List(ctx, approval.Filter{Statuses: []approval.Status{
		approval.StatusAcknowledgedApproved, approval.StatusAcknowledgedRejected, approval.StatusAcknowledgedCancelled,
	}, Limit: deliveryScan})
	if err != nil {
		return err
	}
	for _, a := range acked {
		// Get adds the delivery's attempts, which a list leaves out.
		full, err := s.Engine.Get(ctx, a.ID)
		if err != nil {
			if approval.KindOf(err) == approval.KindNotFound {
				continue
			}
			return err
		}
		if full.Delivery != nil && full.Delivery.LastError != "" {
			d.Retrying = append(d.Retrying, full)
		}
	}
	s.render(w, r, sess, http.StatusOK, "deliveries", "Delivery failures", d)
	return nil
}
