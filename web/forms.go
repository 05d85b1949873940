package web

import (
	"net/http"
	"strings"
)

// trimmedForm returns the posted values of fields, white space trimmed,
// by name ("" for a field not posted).
func trimmedForm(r *http.Request, fields ...string) map[string]string {
	form := make(map[string]string, len(fields))
	for _, f := range fields {
		form[f] = strings.TrimSpace(r.PostFormValue(f))
	}
	return form
}
