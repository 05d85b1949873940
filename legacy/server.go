package legacy

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"approvald/access"
	"approvald/approval"
	"approvald/auth"
	"approvald/engine"
	"approvald/httpapi"
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

// route is one row of the route table. scope is what the caller needs;
// PUT /request decides its scopes from the body, so it only authenticates.
type route struct {
	method  string
	path    string
	public  bool
	scope   approval.Scope
	handler handlerFunc
}

func (s *server) routes() []route {
	return []route{
		{"GET", "/status", true, "", s.status},
		{"GET", "/request", false, approval.ScopeRead, s.getRequest},
		{"GET", "/requests", false, approval.ScopeRead, s.listRequests},
		{"POST", "/request", false, approval.ScopeCreate, s.createRequest},
		{"PUT", "/request", false, "", s.updateRequest},
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
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for path, methods := range allowed {
		if slices.Contains(methods, "GET") {
			methods = append(methods, "HEAD")
		}
		allow := strings.Join(methods, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			s.writeError(w, r, approval.Errorf(approval.KindMethodNotAllowed, approval.CodeMethodNotAllowed,
				"method %s is not allowed on %s; allowed: %s", r.Method, path, allow))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	return s.observe(mux)
}

// wrap authenticates the caller, checks the route's scope and writes the
// handler's error.
func (s *server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p approval.Principal
		if !rt.public {
			var err error
			if p, err = s.authenticate(r); err == nil && rt.scope != "" {
				err = needScopes(p, rt.scope)
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if err := rt.handler(w, r, p); err != nil {
			s.writeError(w, r, err)
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

// needScopes returns a forbidden error naming the first scope p lacks.
func needScopes(p approval.Principal, scopes ...approval.Scope) error {
	for _, sc := range scopes {
		if !p.Has(sc) {
			return approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
				"this needs the %s scope, which %s does not have", sc, p.ID)
		}
	}
	return nil
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

// writeError writes err as {"error": "..."}. Internal errors are logged with
// their cause and shown only as "internal error".
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client is gone; nobody reads the answer
	}
	e := approval.AsError(err)
	status := httpapi.StatusOf(e.Kind) // one mapping for every HTTP face
	if status >= 500 {
		s.Logger.Error("legacy request failed", "method", r.Method, "path", r.URL.Path, "err", err, "code", e.Code)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `APIKey realm="approvald"`)
	}
	httpapi.SetRetryAfter(w, e)
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
		s.writeError(w, r, approval.Internal(err))
	}}, next)
}
