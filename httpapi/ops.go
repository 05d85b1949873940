package httpapi

import (
	"context"
	"net/http"
	"time"

	"approvald/access"
	"approvald/approval"
)

// statusOK is the body of GET /healthz and /readyz, encoded once: probes
// ask for it all day long.
var statusOK = []byte(`{"status":"ok"}`)

func (s *server) healthz(w http.ResponseWriter, _ *http.Request, _ approval.Principal) error {
	writeRaw(w, http.StatusOK, statusOK)
	return nil
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			access.Logger(r.Context()).Warn("not ready", "err", err)
			msg := "the database does not answer"
			if e := approval.AsError(err); e.Kind == approval.KindUnavailable {
				msg = e.Message // such as a full disk
			}
			return approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "%s", msg)
		}
	}
	if s.EventsReady != nil {
		if err := s.EventsReady(); err != nil {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "events": "not ready: " + err.Error()})
			return nil
		}
	}
	writeRaw(w, http.StatusOK, statusOK)
	return nil
}
