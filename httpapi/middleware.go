package httpapi

import (
	"log/slog"
	"net/http"
	"strings"

	"approvald/access"
	"approvald/approval"
)

// observe is access.Log for the native API: panics answer with a
// problem+json 500.
func observe(log *slog.Logger, next http.Handler) http.Handler {
	return access.Log(access.Face{Name: "api", Logger: log, Fail: func(w http.ResponseWriter, r *http.Request, err error) {
		writeError(w, r, approval.Internal(err))
	}}, next)
}

// bearer returns the credential of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
