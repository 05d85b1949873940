package legacy

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"approvald/access"
	"approvald/approval"
	"approvald/auth"
	"approvald/engine"
	"approvald/internal/httpkit"
)

// Deps is what the legacy API needs.
type Deps struct {
	Engine *engine.Engine
	Keys   *auth.Keys
	Logger *slog.Logger
}

type server struct {
	Deps
}

// handlerFunc is a legacy handler: it returns an error instead of writing
// one and gets the authenticated principal (zero on public routes).
type handlerFunc func(w http.ResponseWriter, r *http.Request, p approval.Principal) error

// routes is the route table. PUT /request decides its scopes from the body,
// so it only authenticates.
func (s *server) routes() []httpkit.Route[handlerFunc] {
	return []httpkit.Route[handlerFunc]{
		{Method: "GET", Pattern: "/status", Public: true, Handle: s.status},
		{Method: "GET", Pattern: "/request", Scope: approval.ScopeRead, Handle: s.getRequest},
		{Method: "GET", Pattern: "/requests", Scope: approval.ScopeRead, Handle: s.listRequests},
		{Method: "POST", Pattern: "/request", Scope: approval.ScopeCreate, Handle: s.createRequest},
		{Method: "PUT", Pattern: "/request", Handle: s.updateRequest},
	}
}

// Paths returns the URL paths the legacy API serves; any method on them
// belongs to it (an unknown method is its 405).
func Paths() []string { return []string{"/status", "/request", "/requests"} }

// Mount routes every path of Paths on mux to h, the handler New returns.
func Mount(mux *http.ServeMux, h http.Handler) {
	for _, p := range Paths() {
		mux.Handle(p, h)
	}
}

// New returns the handler of the legacy API.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{Deps: d}
	return s.observe(httpkit.Mux(s.routes(), s.serve, writeError))
}

// serve authenticates the caller of rt, checks its scope and writes the
// handler's error.
func (s *server) serve(rt httpkit.Route[handlerFunc]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			p   approval.Principal
			err error
		)
		if !rt.Public {
			if p, err = s.authenticate(r); err == nil {
				err = rt.Check(p)
			}
		}
		if err == nil {
			err = rt.Handle(w, r, p)
		}
		if err != nil {
			writeError(w, r, err)
		}
	})
}

// authenticate checks the Authorization header: the raw API key, as the
// old service took it. "Bearer <key>" is accepted too, so that one client
// configuration works on both APIs.
func (s *server) authenticate(r *http.Request) (approval.Principal, error) {
	key := strings.TrimSpace(r.Header.Get("Authorization"))
	if scheme, rest, ok := strings.Cut(key, " "); ok && strings.EqualFold(scheme, "Bearer") {
		key = strings.TrimSpace(rest)
	}
	if key == "" {
		return approval.Principal{}, approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated,
			"missing API key: send Authorization: <key>")
	}
	return s.Keys.Authenticate(r.Context(), key)
}

// ErrorBody is the body of every legacy error response.
type ErrorBody struct {
	Error string `json:"error"`
}

// message returns the client message of e: for a validation failure every
// field, since the legacy body has room for one string only.
func message(e *approval.Error) string {
	if e.Kind != approval.KindInvalid || len(e.Fields) < 2 {
		return e.Message
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// writeError answers err as {"error": "..."} (see httpkit.Renderer.Fail):
// internal errors are logged with their cause and shown only as "internal
// error".
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpkit.Renderer(renderError).Fail(w, r, err)
}

// renderError is the legacy API's httpkit.Renderer.
func renderError(w http.ResponseWriter, _ *http.Request, status int, e *approval.Error) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `APIKey realm="approvald"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, ErrorBody{Error: message(e)})
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// observe is access.Log for the legacy API: panics answer with a 500 in
// the legacy body.
func (s *server) observe(next http.Handler) http.Handler {
	return access.Log(access.Face{Name: "legacy", Logger: s.Logger, Fail: func(w http.ResponseWriter, r *http.Request, err error) {
		writeError(w, r, approval.Internal(err))
	}}, next)
}
