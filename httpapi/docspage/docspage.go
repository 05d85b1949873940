// Package docspage renders the OpenAPI document as the HTML page approvald
// serves at /docs. It runs at build time (go generate in httpapi writes
// httpapi/docs.html, and a test keeps that file current), so the server
// links neither kin-openapi nor goldmark: their set-up code cost every
// start about 5 MiB and 10 ms.
package docspage

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// docsTemplate lays out the page; Render fills it from the document.
//
//go:embed docs.html.tmpl
var docsTemplate string

// oaProblemCode is an entry of the document's x-problem-codes, which the
// problem types (/docs#problem-<code>) link to.
type oaProblemCode struct {
	Code        string `json:"code"`
	Status      int    `json:"status"`
	Description string `json:"description"`
}

// What the template shows. Every template.HTML below is built from
// escaped text or by goldmark.
type (
	docsView struct {
		Title, Version, Summary string
		Description             template.HTML
		Groups                  []opGroup
		Webhooks                []opView
		Problems                []problemView
		Schemas                 []schemaView
	}
	opGroup struct {
		Name        string
		Description template.HTML
		Ops         []opView
	}
	opView struct {
		ID, Method, Path, Summary string
		Webhook                   bool // Path is the webhook's name: approvald sends this request
		Description               template.HTML
		Scope                     string // "" for a public operation or one any principal may call
		Audit                     bool   // the audit scope may call it too
		Authenticated             bool   // no scope, but a credential: any principal may call it
		Params                    []paramView
		Body                      *bodyView
		Responses                 []responseView
	}
	paramView struct {
		Name, In    string
		Type        template.HTML
		Required    bool
		Description template.HTML
	}
	bodyView struct {
		Required     bool
		ContentTypes []string
		Type         template.HTML
		Description  template.HTML
		Fields       []fieldView
	}
	fieldView struct {
		Name        string
		Type        template.HTML
		Required    bool
		Description template.HTML
	}
	responseView struct {
		Status      string
		Description template.HTML
		ContentType string
		Type        template.HTML
		Headers     []string
		Codes       []string
	}
	problemView struct {
		Code, StatusText string
		Status           int
		Description      template.HTML
	}
	schemaView struct {
		Name        string
		Type        template.HTML
		Description template.HTML
		Fields      []fieldView
	}
)

// Render returns the page for the OpenAPI document doc (JSON), or an
// error when doc cannot be loaded or the page cannot be rendered.
func Render(doc []byte) ([]byte, error) {
	d, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("loading the document: %w", err)
	}
	if d.Info == nil {
		return nil, errors.New("the document has no info")
	}
	var problems []oaProblemCode
	if x, ok := d.Extensions["x-problem-codes"]; ok {
		raw, err := json.Marshal(x)
		if err == nil {
			err = json.Unmarshal(raw, &problems)
		}
		if err != nil {
			return nil, fmt.Errorf("x-problem-codes: %w", err)
		}
	}
	r := docsRenderer{
		doc:   d,
		codes: map[string]bool{},
		// Raw HTML in a description is omitted, as goldmark does by
		// default; alignments become attributes, not inline styles.
		md: goldmark.New(goldmark.WithExtensions(extension.NewTable(
			extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)))),
		rendered: map[markdownKey]template.HTML{},
	}
	r.w = bufio.NewWriter(&r.buf)
	for _, pc := range problems {
		r.codes[pc.Code] = true
	}
	view := r.view(problems)
	tmpl, err := template.New("docs").Funcs(template.FuncMap{"lower": strings.ToLower}).Parse(docsTemplate)
	if err != nil {
		return nil, fmt.Errorf("parsing the template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, view); err != nil {
		return nil, fmt.Errorf("executing the template: %w", err)
	}
	return buf.Bytes(), nil
}

type docsRenderer struct {
	doc   *openapi3.T
	codes map[string]bool // the problem codes, which inline code spans link to
	md    goldmark.Markdown
	// Shared components repeat their descriptions in every operation:
	// each is rendered once, through one buffer.
	rendered map[markdownKey]template.HTML
	buf      bytes.Buffer
	w        *bufio.Writer
}

type markdownKey struct {
	s      string
	inline bool
}

func (r *docsRenderer) view(problems []oaProblemCode) *docsView {
	d := r.doc
	v := &docsView{
		Title:       d.Info.Title,
		Version:     d.Info.Version,
		Summary:     d.Info.Summary,
		Description: r.text(d.Info.Description),
	}
	group := map[string]int{} // tag name → index in v.Groups
	for _, t := range d.Tags {
		group[t.Name] = len(v.Groups)
		v.Groups = append(v.Groups, opGroup{Name: t.Name, Description: r.text(t.Description)})
	}
	paths := d.Paths.Map()
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		for _, ov := range r.pathItem(path, paths[path]) {
			g, ok := group[ov.tag]
			if !ok {
				g = len(v.Groups)
				group[ov.tag] = g
				v.Groups = append(v.Groups, opGroup{Name: ov.tag})
			}
			v.Groups[g].Ops = append(v.Groups[g].Ops, ov.opView)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.Webhooks)) {
		for _, ov := range r.pathItem(name, d.Webhooks[name]) {
			ov.Webhook = true
			v.Webhooks = append(v.Webhooks, ov.opView)
		}
	}
	for _, pc := range problems {
		v.Problems = append(v.Problems, problemView{
			Code: pc.Code, Status: pc.Status, StatusText: http.StatusText(pc.Status),
			Description: r.inline(pc.Description),
		})
	}
	var schemas openapi3.Schemas
	if d.Components != nil {
		schemas = d.Components.Schemas
	}
	for _, name := range slices.Sorted(maps.Keys(schemas)) {
		s := schemas[name]
		sv := schemaView{
			Name:        name,
			Type:        r.typeOf(s, false),
			Description: r.text(joinSentences(s.Value.Description, r.constraints(s))),
			Fields:      r.fields(s),
		}
		if len(sv.Fields) > 0 {
			sv.Type = "object" // an allOf of objects is one, too
		}
		v.Schemas = append(v.Schemas, sv)
	}
	return v
}

type taggedOp struct {
	opView
	tag string
}

// pathItem returns the operations of a path, or of a webhook, in the
// order GET, POST, PUT, PATCH, DELETE.
func (r *docsRenderer) pathItem(path string, item *openapi3.PathItem) []taggedOp {
	var out []taggedOp
	for _, m := range []struct {
		method string
		op     *openapi3.Operation
	}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
		if m.op == nil {
			continue
		}
		tag := "other"
		if len(m.op.Tags) > 0 {
			tag = m.op.Tags[0]
		}
		out = append(out, taggedOp{r.operation(m.method, path, item.Parameters, m.op), tag})
	}
	return out
}

func (r *docsRenderer) operation(method, path string, shared openapi3.Parameters, op *openapi3.Operation) opView {
	ov := opView{
		ID:          op.OperationID,
		Method:      method,
		Path:        path,
		Summary:     op.Summary,
		Description: r.text(op.Description),
	}
	ov.Scope, _ = op.Extensions["x-required-scope"].(string)
	ov.Audit, _ = op.Extensions["x-audit"].(bool)
	// An operation with the API's bearer credential but no scope: any
	// principal may call it (the CR8TOR routes name their own scheme).
	ov.Authenticated = ov.Scope == "" && op.Security != nil && slices.ContainsFunc(*op.Security, func(req openapi3.SecurityRequirement) bool {
		_, ok := req["apiKey"]
		return ok
	})
	for _, p := range slices.Concat(shared, op.Parameters) {
		p := p.Value
		ov.Params = append(ov.Params, paramView{
			Name: p.Name, In: p.In, Required: p.Required, Type: r.typeOf(p.Schema, true),
			Description: r.inline(joinSentences(p.Description, r.constraints(p.Schema))),
		})
	}
	if op.RequestBody != nil {
		rb := op.RequestBody.Value
		bv := &bodyView{Required: rb.Required, Description: r.text(rb.Description)}
		var schema *openapi3.SchemaRef
		for _, ct := range slices.Sorted(maps.Keys(rb.Content)) {
			bv.ContentTypes = append(bv.ContentTypes, ct)
			if schema == nil {
				schema = rb.Content[ct].Schema
			}
		}
		if schema != nil {
			bv.Type = r.typeOf(schema, true)
			bv.Fields = r.fields(schema)
			if bv.Description == "" {
				bv.Description = r.text(schema.Value.Description)
			}
		}
		ov.Body = bv
	}
	responses := op.Responses.Map()
	for _, status := range slices.Sorted(maps.Keys(responses)) {
		resp := responses[status].Value
		rv := responseView{Status: status}
		if resp.Description != nil {
			rv.Description = r.inline(*resp.Description)
		}
		rv.Headers = slices.Sorted(maps.Keys(resp.Headers))
		for _, ct := range slices.Sorted(maps.Keys(resp.Content)) {
			rv.ContentType = ct
			rv.Type = r.typeOf(resp.Content[ct].Schema, true)
			rv.Codes = problemCodes(resp.Content[ct].Schema)
		}
		ov.Responses = append(ov.Responses, rv)
	}
	return ov
}

// refName returns the last segment of a local reference.
func refName(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// typeOf summarises a schema's type in a few words, linking named schemas.
// Inline object schemas are named "object" (their fields are listed apart).
func (r *docsRenderer) typeOf(s *openapi3.SchemaRef, link bool) template.HTML {
	if s == nil || s.Value == nil {
		return "any"
	}
	if s.Ref != "" {
		name := template.HTMLEscapeString(refName(s.Ref))
		if !link {
			return template.HTML(name)
		}
		return template.HTML(`<a href="#schema-` + name + `">` + name + `</a>`)
	}
	v := s.Value
	var alts []string
	for _, sub := range slices.Concat(v.AnyOf, v.OneOf) {
		alts = append(alts, string(r.typeOf(sub, link)))
	}
	if len(alts) > 0 {
		return template.HTML(strings.Join(alts, " or "))
	}
	for _, sub := range v.AllOf {
		if sub.Ref != "" {
			return r.typeOf(sub, link)
		}
	}
	var out []string
	for _, t := range v.Type.Slice() {
		switch {
		case t == "array":
			out = append(out, "array of "+string(r.typeOf(v.Items, link)))
		case t != "null" && v.Format != "":
			out = append(out, template.HTMLEscapeString(t+" ("+v.Format+")"))
		default:
			out = append(out, template.HTMLEscapeString(t))
		}
	}
	if len(out) == 0 {
		if len(v.AllOf) > 0 || v.Properties != nil {
			return "object"
		}
		return "any"
	}
	return template.HTML(strings.Join(out, " or "))
}

// constraints describes the limits a schema sets on a value, as Markdown
// with code spans; a named schema's are shown in its own section.
func (r *docsRenderer) constraints(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Value == nil || ref.Ref != "" {
		return ""
	}
	s := ref.Value
	var out []string
	if s.Items != nil && s.Items.Ref == "" {
		if c := r.constraints(s.Items); c != "" {
			out = append(out, "each item: "+strings.TrimSuffix(c, "."))
		}
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			vals[i] = codeSpan(e)
		}
		out = append(out, "one of "+strings.Join(vals, ", "))
	}
	if s.Const != nil {
		out = append(out, "always "+codeSpan(s.Const))
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	switch {
	case s.MinLength > 0 && s.MaxLength != nil:
		out = append(out, fmt.Sprintf("%d to %d characters", s.MinLength, *s.MaxLength))
	case s.MaxLength != nil:
		out = append(out, fmt.Sprintf("at most %d characters", *s.MaxLength))
	case s.MinLength == 1:
		out = append(out, "not empty")
	case s.MinLength > 0:
		out = append(out, fmt.Sprintf("at least %d characters", s.MinLength))
	}
	switch {
	case s.MinItems > 0 && s.MaxItems != nil:
		out = append(out, fmt.Sprintf("%d to %d items", s.MinItems, *s.MaxItems))
	case s.MaxItems != nil:
		out = append(out, fmt.Sprintf("at most %d items", *s.MaxItems))
	case s.MinItems > 0:
		out = append(out, fmt.Sprintf("at least %d items", s.MinItems))
	}
	switch {
	case s.Min != nil && s.Max != nil:
		out = append(out, fmt.Sprintf("from %s to %s", num(*s.Min), num(*s.Max)))
	case s.Min != nil:
		out = append(out, "at least "+num(*s.Min))
	case s.Max != nil:
		out = append(out, "at most "+num(*s.Max))
	}
	if s.Pattern != "" {
		out = append(out, "matches "+codeSpan(s.Pattern))
	}
	if s.Default != nil {
		out = append(out, "default "+codeSpan(s.Default))
	}
	if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
		out = append(out, "unknown fields are refused")
	}
	if len(out) == 0 {
		return ""
	}
	return strings.ToUpper(out[0][:1]) + strings.Join(out, "; ")[1:] + "."
}

// codeSpan writes v as a Markdown code span, JSON-encoded unless it is a
// string, with backticks enough to hold the backticks in it.
func codeSpan(v any) string {
	s, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		s = string(b)
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if s == "" || s[0] == '`' || s[len(s)-1] == '`' {
		s = " " + s + " " // CommonMark strips one space each side
	}
	return fence + s + fence
}

func joinSentences(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// fields lists the properties of an object schema, those of allOf members
// included, in the order required first, then by name.
func (r *docsRenderer) fields(s *openapi3.SchemaRef) []fieldView {
	props := map[string]*openapi3.SchemaRef{}
	required := map[string]bool{}
	var collect func(s *openapi3.SchemaRef)
	collect = func(s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil {
			return
		}
		for name, p := range s.Value.Properties {
			if _, seen := props[name]; !seen {
				props[name] = p
			}
		}
		for _, name := range s.Value.Required {
			required[name] = true
		}
		for _, sub := range s.Value.AllOf {
			collect(sub)
		}
	}
	collect(s)
	names := slices.Sorted(maps.Keys(props))
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case required[a] == required[b]:
			return 0
		case required[a]:
			return -1
		}
		return 1
	})
	var out []fieldView
	for _, name := range names {
		p := props[name]
		out = append(out, fieldView{
			Name: name, Required: required[name], Type: r.typeOf(p, true),
			// A $ref's own description, else the referenced schema's.
			Description: r.inline(joinSentences(p.Value.Description, r.constraints(p))),
		})
	}
	return out
}

// problemCodes returns the problem codes a response schema allows: the enum
// of its "code" property, in an inline allOf member or the schema itself.
func problemCodes(s *openapi3.SchemaRef) []string {
	if s == nil || s.Value == nil {
		return nil
	}
	var out []string
	for _, sub := range append(openapi3.SchemaRefs{s}, s.Value.AllOf...) {
		if sub.Ref != "" {
			continue // a named schema such as Problem allows every code
		}
		if c, ok := sub.Value.Properties["code"]; ok && c.Value != nil {
			for _, e := range c.Value.Enum {
				if code, ok := e.(string); ok {
					out = append(out, code)
				}
			}
		}
	}
	return out
}

// text renders a description's CommonMark (and GFM tables) as blocks.
func (r *docsRenderer) text(s string) template.HTML { return r.markdown(s, false) }

// inline renders a short description, for a table cell: a lone paragraph
// loses its <p>.
func (r *docsRenderer) inline(s string) template.HTML { return r.markdown(s, true) }

var slugJunk = regexp.MustCompile(`[^a-z0-9]+`)

// markdown renders s with goldmark, after moving headings a level down
// (the page's own sections are h2) with an id "about-<slug>", and linking
// each code span that names a problem code to its entry.
func (r *docsRenderer) markdown(s string, inline bool) template.HTML {
	if s == "" {
		return ""
	}
	if html, ok := r.rendered[markdownKey{s, inline}]; ok {
		return html
	}
	src := []byte(s)
	doc := r.md.Parser().Parse(text.NewReader(src))
	var problems []ast.Node
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			n.Level = min(n.Level+1, 6)
			slug := strings.Trim(slugJunk.ReplaceAllString(strings.ToLower(plainText(n, src)), "-"), "-")
			n.SetAttributeString("id", []byte("about-"+slug))
		case *ast.CodeSpan:
			if _, isLink := n.Parent().(*ast.Link); !isLink && r.codes[plainText(n, src)] {
				problems = append(problems, n)
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	for _, n := range problems { // changed after the walk, which follows siblings
		link := ast.NewLink()
		link.Destination = []byte("#problem-" + plainText(n, src))
		n.Parent().ReplaceChild(n.Parent(), n, link)
		link.AppendChild(link, n)
	}
	if p := doc.FirstChild(); inline && p != nil && p.NextSibling() == nil && p.Kind() == ast.KindParagraph {
		tb := ast.NewTextBlock()
		for c := p.FirstChild(); c != nil; {
			next := c.NextSibling()
			tb.AppendChild(tb, c)
			c = next
		}
		doc.ReplaceChild(doc, p, tb)
	}
	r.buf.Reset()
	html := template.HTML(template.HTMLEscapeString(s))
	// Only a failing writer fails, and a bytes.Buffer does not.
	if err := r.md.Renderer().Render(r.w, src, doc); err == nil {
		html = template.HTML(strings.TrimSuffix(r.buf.String(), "\n"))
	}
	r.rendered[markdownKey{s, inline}] = html
	return html
}

// plainText returns the text of a node's descendants, without markup.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}
