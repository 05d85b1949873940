package httpapi

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"time"

	"approvald/approval"
)

// ruleView is a service rule as the API shows it: never its secret, API
// key or header values, except the secret in the one response that created
// or rotated it. Header values are write-only like the API key, since they
// are where a standard receiver's credential goes: every scope, admin
// included, sees only the names.
type ruleView struct {
	approval.ServiceRule
	Timeout   string                `json:"timeout"`
	HasAPIKey bool                  `json:"has_api_key"`
	Headers   map[string]headerView `json:"headers"`
	Secret    string                `json:"secret,omitempty"`
}

// headerView is a rule header as responses show it, by name.
type headerView struct {
	HasValue bool `json:"has_value"`
}

func viewRule(r *approval.ServiceRule, showSecret bool) ruleView {
	v := ruleView{ServiceRule: *r, Timeout: r.Timeout.String(), HasAPIKey: r.APIKey != "", Headers: map[string]headerView{}}
	for name, value := range r.Headers {
		v.Headers[name] = headerView{HasValue: value != ""}
	}
	if showSecret {
		v.Secret = r.Secret
	}
	return v
}

type ruleBody struct {
	Name        string          `json:"name"`
	URL         string          `json:"url"`
	Format      string          `json:"format"`
	Secret      string          `json:"secret"`
	APIKey      string          `json:"api_key"`
	Timeout     string          `json:"timeout"`
	MaxAttempts int             `json:"max_attempts"`
	Headers     json.RawMessage `json:"headers"`
	Policy      string          `json:"policy"`
}

// ruleHeaders are the headers of a rule body, by name: a string sets the
// value; {} or {"has_value": …} — the shape responses show, so that a rule
// read and sent back keeps its headers — keeps the value the rule has;
// null is the same as leaving the name out.
type ruleHeaders struct {
	set  map[string]string
	keep []string
}

// readHeaders reads a rule body's "headers" (nil or null: none), adding
// what is wrong to v.
func readHeaders(v *approval.Validation, raw json.RawMessage) ruleHeaders {
	var h ruleHeaders
	if len(raw) == 0 || string(raw) == "null" {
		return h
	}
	var entries map[string]json.RawMessage
	if json.Unmarshal(raw, &entries) != nil {
		v.Add("headers", "must be an object of header names and values")
		return h
	}
	h.set = make(map[string]string, len(entries))
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		if string(entries[name]) == "null" {
			continue // left out: the header goes
		}
		var value string
		if json.Unmarshal(entries[name], &value) == nil {
			h.set[name] = value
			continue
		}
		var keep struct {
			HasValue *bool `json:"has_value"`
		}
		dec := json.NewDecoder(bytes.NewReader(entries[name]))
		dec.DisallowUnknownFields()
		if bytes.HasPrefix(bytes.TrimSpace(entries[name]), []byte("{")) && dec.Decode(&keep) == nil {
			h.keep = append(h.keep, name)
			continue
		}
		v.Add("headers", "the value of %q must be a string, or {} to keep the value the rule has", name)
	}
	return h
}

// merge returns the headers h makes of current, the rule's headers.
func (h ruleHeaders) merge(current map[string]string) map[string]string {
	out := maps.Clone(h.set)
	for _, name := range h.keep {
		if value, ok := current[name]; ok {
			out[name] = value
		}
	}
	return out
}

// checkKept adds to v each header h keeps that current, the rule's
// headers, does not have: there is no value to keep.
func (h ruleHeaders) checkKept(v *approval.Validation, current map[string]string) {
	for _, name := range h.keep {
		if _, ok := current[name]; !ok {
			v.Add("headers", "the rule has no header %q whose value could be kept: give its value as a string", name)
		}
	}
}

// parseTimeout reads a rule timeout such as "10s"; "" keeps the default.
func parseTimeout(v *approval.Validation, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		v.Add("timeout", "must be a duration such as 10s or 1500ms")
		return 0
	}
	return d
}

func (s *server) createRule(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	var in ruleBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	var v approval.Validation
	headers := readHeaders(&v, in.Headers)
	headers.checkKept(&v, nil) // a new rule has no values to keep
	rule := approval.ServiceRule{
		Name: in.Name, URL: in.URL, Format: approval.RuleFormat(in.Format), Secret: in.Secret, APIKey: in.APIKey,
		Timeout: parseTimeout(&v, in.Timeout), MaxAttempts: in.MaxAttempts, Headers: headers.set, Policy: in.Policy,
	}
	if err := v.Err(); err != nil {
		return err
	}
	created, err := s.Engine.CreateRule(r.Context(), p, rule)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/service-rules/"+created.Name)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, viewRule(created, in.Secret == ""))
	return nil
}

func (s *server) listRules(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if err := unpaged(r); err != nil {
		return err
	}
	rules, err := s.Engine.Rules(r.Context())
	if err != nil {
		return err
	}
	page := listPage[ruleView]{Items: make([]ruleView, len(rules))}
	for i := range rules {
		page.Items[i] = viewRule(&rules[i], false)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *server) getRule(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	rule, err := s.Engine.Rule(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewRule(rule, false))
	return nil
}

// editRule applies a merge patch: present fields replace the rule's, and
// "secret": null rotates the signing secret (the response shows the new one).
// "headers" replaces the rule's headers as a whole (null: none); a header
// given as {} keeps the value it has (see ruleHeaders).
func (s *server) editRule(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	var raw map[string]json.RawMessage
	if _, err := jsonBody.ReadJSON(w, r, &raw); err != nil {
		return err
	}
	var v approval.Validation
	str := func(field string) *string {
		val, ok := raw[field]
		if !ok {
			return nil
		}
		var out string
		if string(val) != "null" && json.Unmarshal(val, &out) != nil {
			v.Add(field, "must be a string")
		}
		return &out
	}
	url, format, secret, apiKey, timeout := str("url"), str("format"), str("secret"), str("api_key"), str("timeout")
	policy := str("policy")
	var attempts *int
	if val, ok := raw["max_attempts"]; ok {
		attempts = new(int)
		if json.Unmarshal(val, attempts) != nil {
			v.Add("max_attempts", "must be a whole number")
		}
	}
	rawHeaders, setHeaders := raw["headers"]
	headers := readHeaders(&v, rawHeaders)
	for field := range raw {
		switch field {
		case "url", "format", "secret", "api_key", "timeout", "max_attempts", "headers", "policy":
		case "name", "id":
			v.Add(field, "cannot be changed; create a new rule instead")
		default:
			v.Add(field, "is not a field of a service rule")
		}
	}
	var d time.Duration
	if timeout != nil {
		d = parseTimeout(&v, *timeout)
	}
	if err := v.Err(); err != nil {
		return err
	}
	if len(headers.keep) > 0 {
		// Checked before the update, whose edit cannot fail; a header
		// removed meanwhile is not kept.
		current, err := s.Engine.Rule(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		headers.checkKept(&v, current.Headers)
		if err := v.Err(); err != nil {
			return err
		}
	}
	var before string
	rule, err := s.Engine.UpdateRule(r.Context(), p, r.PathValue("name"), func(rule *approval.ServiceRule) {
		before = rule.Secret
		if url != nil {
			rule.URL = *url
		}
		if format != nil {
			rule.Format = approval.RuleFormat(*format)
			if rule.Format == approval.FormatLegacy && secret == nil {
				rule.Secret = ""
			}
			if rule.Format == approval.FormatStandard && apiKey == nil {
				rule.APIKey = ""
			}
		}
		if secret != nil {
			rule.Secret = *secret // "" makes Validate generate a new one
		}
		if apiKey != nil {
			rule.APIKey = *apiKey
		}
		if timeout != nil {
			rule.Timeout = d
		}
		if attempts != nil {
			rule.MaxAttempts = *attempts
		}
		if setHeaders {
			rule.Headers = headers.merge(rule.Headers)
		}
		if policy != nil {
			rule.Policy = *policy
		}
	})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	// Show a secret the server generated (rotation, or a switch to the
	// standard format): this response is the only time anyone sees it.
	generated := rule.Secret != before && (secret == nil || *secret == "")
	writeJSON(w, http.StatusOK, viewRule(rule, generated && rule.Format == approval.FormatStandard))
	return nil
}

func (s *server) deleteRule(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if err := s.Engine.DeleteRule(r.Context(), p, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) redeliver(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	req, err := s.Engine.Redeliver(r.Context(), p, r.PathValue("id"), expect)
	if err != nil {
		return err
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}
