package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"approvald/approval"
	"approvald/auth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the pages, one template file each, rendered inside layout.html.
var pageNames = []string{"signin", "signedin", "inbox", "request", "rules", "keys", "deliveries", "error",
	"channels", "contacts", "delegations", "preferences", "bulk"}

// pages holds the parsed templates and the static files' versions.
type pages struct {
	set map[string]*template.Template
}

// assetVersions maps each static file to a digest of its content, which
// asset URLs carry so that browsers may cache them for good.
var assetVersions = func() map[string]string {
	out := map[string]string{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		switch path.Ext(e.Name()) {
		case ".js", ".css", ".svg":
		default:
			continue // the licence and notes stay out of the served files
		}
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return out
}()

// asset returns the URL of a static file, versioned by its content.
func asset(name string) string {
	return "/ui/static/" + name + "?v=" + assetVersions[name]
}

// loadPages parses every page with the layout and the shared partials.
func loadPages() (*pages, error) {
	p := &pages{set: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", name, err)
		}
		p.set[name] = t
	}
	return p, nil
}

// execute renders page with data: the whole document, or only its
// "content" block for an htmx request (which swaps a part of it).
func (p *pages) execute(w io.Writer, page string, data pageData, fragment bool) error {
	t, ok := p.set[page]
	if !ok {
		return fmt.Errorf("no page %q", page)
	}
	if fragment {
		return t.ExecuteTemplate(w, "content", data)
	}
	return t.ExecuteTemplate(w, "layout", data)
}

// funcs are the template functions.
var funcs = template.FuncMap{
	"asset":         asset,
	"rel":           func(t time.Time) string { return relTime(time.Now(), t) },
	"iso":           func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"abs":           func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"deref":         func(t *time.Time) time.Time { return *t },
	"derefStatus":   func(s *approval.Status) approval.Status { return *s },
	"statusLabel":   statusLabel,
	"requestStatus": requestStatus,
	"deadlineClass": func(r *approval.Request) string { return deadlineClass(time.Now(), r) },
	"payload":       payloadView,
	"join":          strings.Join,
	"joinScopes": func(ss []approval.Scope) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = string(s)
		}
		return strings.Join(out, ", ")
	},
	"shortID": func(id string) string {
		if len(id) > 8 {
			return id[len(id)-8:]
		}
		return id
	},
	// keyPrefix shows a key's public prefix; an ellipsis follows only the
	// start of a generated key, not the random id of a configured one.
	"keyPrefix": func(p string) string {
		if strings.HasPrefix(p, auth.KeyPrefix) {
			return p + "…"
		}
		return p
	},
	"add":       func(a, b int) int { return a + b },
	"verb":      actionVerb,
	"allScopes": approval.Scopes,
	"statuses":  approval.Statuses,
	"pretty": func(raw json.RawMessage) template.HTML {
		var b bytes.Buffer
		if json.Indent(&b, raw, "", "  ") != nil {
			return visibleLines(string(raw))
		}
		return visibleLines(b.String())
	},
	"visible":       visible,
	"decisionClass": decisionClass,
	"decisionLabel": decisionLabel,
	"shortDigest":   shortDigest,
	"visibleLines":  visibleLines,
}

// faviconICO is the UI's icon as an ICO file (one 32 px PNG inside), and
// faviconVersion a digest of it, its ETag.
//
//go:embed static/favicon.ico
var faviconICO []byte

var faviconVersion = func() string {
	sum := sha256.Sum256(faviconICO)
	return hex.EncodeToString(sum[:6])
}()

// favicon serves the UI's icon (a 32 px PNG in an ICO file) at
// /favicon.ico, for the browsers and tools that ask there; the pages name
// the SVG icon of static/.
func (s *server) favicon(w http.ResponseWriter, r *http.Request, _ *session) error {
	w.Header().Set("Content-Type", "image/x-icon")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("ETag", `"`+faviconVersion+`"`)
	http.ServeContent(w, r, "favicon.ico", time.Time{}, bytes.NewReader(faviconICO))
	return nil
}

// static serves the embedded static files: for ever cacheable when asked
// for by their versioned URL, revalidated otherwise.
func (s *server) static(w http.ResponseWriter, r *http.Request, _ *session) error {
	name := r.PathValue("file")
	v, ok := assetVersions[name]
	if !ok || strings.HasPrefix(name, ".") {
		return approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "there is no file %s", name)
	}
	b, err := staticFS.ReadFile(path.Join("static", name))
	if err != nil {
		return approval.Internal(err)
	}
	switch path.Ext(name) {
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".svg":
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	if r.URL.Query().Get("v") == v {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+v+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	return nil
}
