package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"approvald/approval"
)

// ruleView is a service rule as the API shows it: never its secret or API
// key, except the secret in the one response that created or rotated it.
type ruleView struct {
	approval.ServiceRule
	Timeout   string `json:"timeout"`
	HasAPIKey bool   `json:"has_api_key"`
	Secret    string `json:"secret,omitempty"`
}

func viewRule(r *approval.ServiceRule, showSecret bool) ruleView {
	v := ruleView{ServiceRule: *r, Timeout: r.Timeout.String(), HasAPIKey: r.APIKey != ""}
	if showSecret {
		v.Secret = r.Secret
	}
	return v
}

type ruleBody struct {
	Name        string            `json:"name"`
	URL         string            `json:"url"`
	Format      string            `json:"format"`
	Secret      string            `json:"secret"`
	APIKey      string            `json:"api_key"`
	Timeout     string            `json:"timeout"`
	MaxAttempts int               `json:"max_attempts"`
	Headers     map[string]string `json:"headers"`
	Policy      string            `json:"policy"`
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

func (s *server) createRule(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	body, err := readBody(r, false)
	if err != nil {
		return err
	}
	var in ruleBody
	if err := decodeStrict(body, &in); err != nil {
		return err
	}
	var v approval.Validation
	rule := approval.ServiceRule{
		Name: in.Name, URL: in.URL, Format: approval.RuleFormat(in.Format), Secret: in.Secret, APIKey: in.APIKey,
		Timeout: parseTimeout(&v, in.Timeout), MaxAttempts: in.MaxAttempts, Headers: in.Headers, Policy: in.Policy,
	}
	if err := v.Err(); err != nil {
		return err
	}
	created, err := s.Engine.CreateRule(r.Context(), rule)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/service-rules/"+created.Name)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, viewRule(created, in.Secret == ""))
	return nil
}

func (s *server) listRules(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
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
func (s *server) editRule(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	body, err := readBody(r, false)
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := decodeStrict(body, &raw); err != nil {
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
	var headers map[string]string
	_, setHeaders := raw["headers"]
	if setHeaders && json.Unmarshal(raw["headers"], &headers) != nil {
		v.Add("headers", "must be an object of strings")
	}
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
	var before string
	rule, err := s.Engine.UpdateRule(r.Context(), r.PathValue("name"), func(rule *approval.ServiceRule) {
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
			rule.Headers = headers
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

func (s *server) deleteRule(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if err := s.Engine.DeleteRule(r.Context(), r.PathValue("name")); err != nil {
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
