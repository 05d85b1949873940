package httpapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// docsTemplate lays out the /docs page; docs.go fills it from openapiJSON.
//
//go:embed docs.html.tmpl
var docsTemplate string

// docsPage returns the API page, rendered from openapiJSON on first use
// and kept: rendering takes about 20 ms and 3 MB, which every start paid
// when it was done at package initialisation. Both inputs are embedded, so
// a document or template that cannot be rendered fails the page's tests.
var docsPage = sync.OnceValue(func() []byte { return mustRenderDocs(openapiJSON) })

func mustRenderDocs(doc []byte) []byte {
	page, err := renderDocs(doc)
	if err != nil {
		panic("httpapi: rendering the /docs page from openapi.json: " + err.Error())
	}
	return page
}

// The subset of an OpenAPI 3.1 document that the page shows. Only the
// constructs openapi.json uses are modelled; the kin-openapi tests check the
// document itself.
type (
	oaDoc struct {
		Info struct {
			Title       string `json:"title"`
			Version     string `json:"version"`
			Summary     string `json:"summary"`
			Description string `json:"description"`
		} `json:"info"`
		Tags       []oaTag                               `json:"tags"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas    map[string]*oaSchema    `json:"schemas"`
			Parameters map[string]*oaParameter `json:"parameters"`
			Headers    map[string]*oaHeader    `json:"headers"`
			Responses  map[string]*oaResponse  `json:"responses"`
		} `json:"components"`
		ProblemCodes []oaProblemCode `json:"x-problem-codes"`
	}
	oaTag struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	oaProblemCode struct {
		Code        string `json:"code"`
		Status      int    `json:"status"`
		Description string `json:"description"`
	}
	oaOperation struct {
		OperationID string                 `json:"operationId"`
		Tags        []string               `json:"tags"`
		Summary     string                 `json:"summary"`
		Description string                 `json:"description"`
		Scope       string                 `json:"x-required-scope"`
		Parameters  []*oaParameter         `json:"parameters"`
		RequestBody *oaRequestBody         `json:"requestBody"`
		Responses   map[string]*oaResponse `json:"responses"`
	}
	oaParameter struct {
		Ref         string    `json:"$ref"`
		Name        string    `json:"name"`
		In          string    `json:"in"`
		Description string    `json:"description"`
		Required    bool      `json:"required"`
		Schema      *oaSchema `json:"schema"`
	}
	oaHeader struct {
		Ref         string    `json:"$ref"`
		Description string    `json:"description"`
		Required    bool      `json:"required"`
		Schema      *oaSchema `json:"schema"`
	}
	oaRequestBody struct {
		Description string              `json:"description"`
		Required    bool                `json:"required"`
		Content     map[string]*oaMedia `json:"content"`
	}
	oaResponse struct {
		Ref         string               `json:"$ref"`
		Description string               `json:"description"`
		Headers     map[string]*oaHeader `json:"headers"`
		Content     map[string]*oaMedia  `json:"content"`
	}
	oaMedia struct {
		Schema *oaSchema `json:"schema"`
	}
	oaSchema struct {
		Ref                  string               `json:"$ref"`
		Type                 oaTypes              `json:"type"`
		Format               string               `json:"format"`
		Description          string               `json:"description"`
		Enum                 []any                `json:"enum"`
		Const                any                  `json:"const"`
		Default              any                  `json:"default"`
		Pattern              string               `json:"pattern"`
		MinLength            *int                 `json:"minLength"`
		MaxLength            *int                 `json:"maxLength"`
		MinItems             *int                 `json:"minItems"`
		MaxItems             *int                 `json:"maxItems"`
		Minimum              *float64             `json:"minimum"`
		Maximum              *float64             `json:"maximum"`
		Properties           map[string]*oaSchema `json:"properties"`
		Required             []string             `json:"required"`
		AdditionalProperties json.RawMessage      `json:"additionalProperties"`
		Items                *oaSchema            `json:"items"`
		AllOf                []*oaSchema          `json:"allOf"`
		AnyOf                []*oaSchema          `json:"anyOf"`
		OneOf                []*oaSchema          `json:"oneOf"`
	}
	// oaTypes is a schema's type: one name or, in OpenAPI 3.1, a list.
	oaTypes []string
)

func (t *oaTypes) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = oaTypes{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("type must be a string or a list of strings: %w", err)
	}
	*t = many
	return nil
}

// What the template shows.
type (
	docsView struct {
		Title, Version, Summary string
		Description             template.HTML
		Groups                  []opGroup
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
		Description               template.HTML
		Scope                     string // "" for a public operation
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

// methodOrder is the order in which a path's operations are shown.
var methodOrder = []string{"get", "post", "put", "patch", "delete"}

// renderDocs renders the page for the OpenAPI document doc.
func renderDocs(doc []byte) ([]byte, error) {
	var d oaDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("decoding the document: %w", err)
	}
	r := docsRenderer{doc: &d, codes: map[string]bool{}}
	for _, pc := range d.ProblemCodes {
		r.codes[pc.Code] = true
	}
	view, err := r.view()
	if err != nil {
		return nil, err
	}
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
	doc   *oaDoc
	codes map[string]bool // the problem codes, which inline code spans link to
}

func (r *docsRenderer) view() (*docsView, error) {
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
		v.Groups = append(v.Groups, opGroup{Name: t.Name, Description: r.inline(t.Description)})
	}
	for _, path := range slices.Sorted(maps.Keys(d.Paths)) {
		item := d.Paths[path]
		var shared []*oaParameter
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				return nil, fmt.Errorf("%s: parameters: %w", path, err)
			}
		}
		for _, method := range methodOrder {
			raw, ok := item[method]
			if !ok {
				continue
			}
			var op oaOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			ov, err := r.operation(method, path, shared, &op)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			g, ok := group[tag]
			if !ok {
				g = len(v.Groups)
				group[tag] = g
				v.Groups = append(v.Groups, opGroup{Name: tag})
			}
			v.Groups[g].Ops = append(v.Groups[g].Ops, ov)
		}
	}
	for _, pc := range d.ProblemCodes {
		v.Problems = append(v.Problems, problemView{
			Code: pc.Code, Status: pc.Status, StatusText: http.StatusText(pc.Status),
			Description: r.inline(pc.Description),
		})
	}
	for _, name := range slices.Sorted(maps.Keys(d.Components.Schemas)) {
		s := d.Components.Schemas[name]
		sv := schemaView{
			Name:        name,
			Type:        r.typeOf(s, false),
			Description: r.inline(joinSentences(s.Description, r.constraints(s))),
			Fields:      r.fields(s),
		}
		if len(sv.Fields) > 0 {
			sv.Type = "object" // an allOf of objects is one, too
		}
		v.Schemas = append(v.Schemas, sv)
	}
	return v, nil
}

func (r *docsRenderer) operation(method, path string, shared []*oaParameter, op *oaOperation) (opView, error) {
	ov := opView{
		ID:          op.OperationID,
		Method:      strings.ToUpper(method),
		Path:        path,
		Summary:     op.Summary,
		Description: r.text(op.Description),
		Scope:       op.Scope,
	}
	for _, p := range append(slices.Clone(shared), op.Parameters...) {
		p, err := r.parameter(p)
		if err != nil {
			return ov, err
		}
		ov.Params = append(ov.Params, paramView{
			Name: p.Name, In: p.In, Required: p.Required, Type: r.typeOf(p.Schema, true),
			Description: r.inline(joinSentences(p.Description, r.constraints(p.Schema))),
		})
	}
	if rb := op.RequestBody; rb != nil {
		bv := &bodyView{Required: rb.Required, Description: r.inline(rb.Description)}
		var schema *oaSchema
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
				bv.Description = r.inline(r.resolve(schema).Description)
			}
		}
		ov.Body = bv
	}
	for _, status := range slices.Sorted(maps.Keys(op.Responses)) {
		resp, err := r.response(op.Responses[status])
		if err != nil {
			return ov, fmt.Errorf("response %s: %w", status, err)
		}
		rv := responseView{Status: status, Description: r.inline(resp.Description)}
		for _, name := range slices.Sorted(maps.Keys(resp.Headers)) {
			rv.Headers = append(rv.Headers, name)
		}
		for _, ct := range slices.Sorted(maps.Keys(resp.Content)) {
			rv.ContentType = ct
			rv.Type = r.typeOf(resp.Content[ct].Schema, true)
			rv.Codes = r.problemCodes(resp.Content[ct].Schema)
		}
		ov.Responses = append(ov.Responses, rv)
	}
	return ov, nil
}

// refName returns the last segment of a local reference.
func refName(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

func (r *docsRenderer) parameter(p *oaParameter) (*oaParameter, error) {
	if p.Ref == "" {
		return p, nil
	}
	if q, ok := r.doc.Components.Parameters[refName(p.Ref)]; ok {
		return q, nil
	}
	return nil, fmt.Errorf("unknown parameter %s", p.Ref)
}

func (r *docsRenderer) response(resp *oaResponse) (*oaResponse, error) {
	if resp.Ref != "" {
		var ok bool
		if resp, ok = r.doc.Components.Responses[refName(resp.Ref)]; !ok {
			return nil, fmt.Errorf("unknown response %s", resp.Ref)
		}
	}
	return resp, nil
}

// resolve follows a schema reference; an unknown one resolves to an empty schema.
func (r *docsRenderer) resolve(s *oaSchema) *oaSchema {
	if s == nil {
		return &oaSchema{}
	}
	if s.Ref != "" {
		if t, ok := r.doc.Components.Schemas[refName(s.Ref)]; ok {
			return t
		}
		return &oaSchema{}
	}
	return s
}

// typeOf summarises a schema's type in a few words, linking named schemas.
// Inline object schemas are named "object" (their fields are listed apart).
func (r *docsRenderer) typeOf(s *oaSchema, link bool) template.HTML {
	if s == nil {
		return "any"
	}
	if s.Ref != "" {
		name := template.HTMLEscapeString(refName(s.Ref))
		if !link {
			return template.HTML(name)
		}
		return template.HTML(`<a href="#schema-` + name + `">` + name + `</a>`)
	}
	var alts []string
	for _, sub := range slices.Concat(s.AnyOf, s.OneOf) {
		alts = append(alts, string(r.typeOf(sub, link)))
	}
	if len(alts) > 0 {
		return template.HTML(strings.Join(alts, " or "))
	}
	for _, sub := range s.AllOf {
		if sub.Ref != "" {
			return r.typeOf(sub, link)
		}
	}
	var out []string
	for _, t := range s.Type {
		switch {
		case t == "array":
			out = append(out, "array of "+string(r.typeOf(s.Items, link)))
		case t != "null" && s.Format != "":
			out = append(out, template.HTMLEscapeString(t+" ("+s.Format+")"))
		default:
			out = append(out, template.HTMLEscapeString(t))
		}
	}
	if len(out) == 0 {
		if len(s.AllOf) > 0 || s.Properties != nil {
			return "object"
		}
		return "any"
	}
	return template.HTML(strings.Join(out, " or "))
}

// constraints describes the limits a schema sets on a value, as text with
// code spans.
func (r *docsRenderer) constraints(s *oaSchema) string {
	if s == nil {
		return ""
	}
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
	case s.MinLength != nil && s.MaxLength != nil:
		out = append(out, fmt.Sprintf("%d to %d characters", *s.MinLength, *s.MaxLength))
	case s.MaxLength != nil:
		out = append(out, fmt.Sprintf("at most %d characters", *s.MaxLength))
	case s.MinLength != nil && *s.MinLength == 1:
		out = append(out, "not empty")
	case s.MinLength != nil:
		out = append(out, fmt.Sprintf("at least %d characters", *s.MinLength))
	}
	switch {
	case s.MinItems != nil && s.MaxItems != nil:
		out = append(out, fmt.Sprintf("%d to %d items", *s.MinItems, *s.MaxItems))
	case s.MaxItems != nil:
		out = append(out, fmt.Sprintf("at most %d items", *s.MaxItems))
	case s.MinItems != nil:
		out = append(out, fmt.Sprintf("at least %d items", *s.MinItems))
	}
	switch {
	case s.Minimum != nil && s.Maximum != nil:
		out = append(out, fmt.Sprintf("from %s to %s", num(*s.Minimum), num(*s.Maximum)))
	case s.Minimum != nil:
		out = append(out, "at least "+num(*s.Minimum))
	case s.Maximum != nil:
		out = append(out, "at most "+num(*s.Maximum))
	}
	if s.Pattern != "" {
		out = append(out, "matches "+codeSpan(s.Pattern))
	}
	if s.Default != nil {
		out = append(out, "default "+codeSpan(s.Default))
	}
	if string(s.AdditionalProperties) == "false" {
		out = append(out, "unknown fields are refused")
	}
	if len(out) == 0 {
		return ""
	}
	return strings.ToUpper(out[0][:1]) + strings.Join(out, "; ")[1:] + "."
}

// codeSpan writes v as an inline code span, JSON-encoded unless it is a string.
func codeSpan(v any) string {
	s, ok := v.(string)
	if !ok {
		b, _ := json.Marshal(v)
		s = string(b)
	}
	return "`" + strings.ReplaceAll(s, "`", "'") + "`"
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
func (r *docsRenderer) fields(s *oaSchema) []fieldView {
	props := map[string]*oaSchema{}
	required := map[string]bool{}
	var collect func(s *oaSchema)
	collect = func(s *oaSchema) {
		s = r.resolve(s)
		for name, p := range s.Properties {
			if _, seen := props[name]; !seen {
				props[name] = p
			}
		}
		for _, name := range s.Required {
			required[name] = true
		}
		for _, sub := range s.AllOf {
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
		desc := p.Description
		if desc == "" && p.Ref != "" {
			desc = r.resolve(p).Description
		}
		out = append(out, fieldView{
			Name: name, Required: required[name], Type: r.typeOf(p, true),
			Description: r.inline(joinSentences(desc, r.constraints(p))),
		})
	}
	return out
}

// problemCodes returns the problem codes a response schema allows: the enum
// of its "code" property, in an allOf member or the schema itself.
func (r *docsRenderer) problemCodes(s *oaSchema) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, sub := range append([]*oaSchema{s}, s.AllOf...) {
		if c, ok := sub.Properties["code"]; ok {
			for _, e := range c.Enum {
				if code, ok := e.(string); ok {
					out = append(out, code)
				}
			}
		}
	}
	return out
}

var (
	headingLine = regexp.MustCompile(`^(#{2,4}) +(.*)$`)
	tableRule   = regexp.MustCompile(`^\|[\s|:-]+\|$`)
	emphasis    = regexp.MustCompile(`\*([^*\s][^*]*)\*`)
	slugJunk    = regexp.MustCompile(`[^a-z0-9]+`)
)

// text renders the small subset of CommonMark the document's descriptions
// use: paragraphs, "## " headings, "- " lists, pipe tables, fenced code
// blocks and inline code spans and *emphasis*. Everything is escaped first.
func (r *docsRenderer) text(s string) template.HTML {
	var b strings.Builder
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var para []string
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + string(r.inline(strings.Join(para, " "))) + "</p>\n")
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		switch {
		case strings.HasPrefix(line, "```"):
			flush()
			var code []string
			for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
				code = append(code, lines[i])
			}
			b.WriteString("<pre>" + template.HTMLEscapeString(strings.Join(code, "\n")) + "</pre>\n")
		case line == "":
			flush()
		case headingLine.MatchString(line):
			flush()
			m := headingLine.FindStringSubmatch(line)
			level := len(m[1]) + 1 // the page's own sections are h2
			slug := strings.Trim(slugJunk.ReplaceAllString(strings.ToLower(m[2]), "-"), "-")
			fmt.Fprintf(&b, "<h%d id=\"about-%s\">%s</h%d>\n", level, slug, r.inline(m[2]), level)
		case strings.HasPrefix(line, "- "):
			flush()
			b.WriteString("<ul>\n")
			for ; i < len(lines) && strings.HasPrefix(lines[i], "- "); i++ {
				b.WriteString("<li>" + string(r.inline(strings.TrimPrefix(lines[i], "- "))) + "</li>\n")
			}
			i--
			b.WriteString("</ul>\n")
		case strings.HasPrefix(line, "|"):
			flush()
			b.WriteString("<table>\n")
			for row := 0; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
				l := strings.TrimSpace(lines[i])
				if tableRule.MatchString(l) {
					continue
				}
				cell := "td"
				if row == 0 {
					cell = "th"
				}
				b.WriteString("<tr>")
				for _, c := range strings.Split(strings.Trim(l, "|"), "|") {
					b.WriteString("<" + cell + ">" + string(r.inline(strings.TrimSpace(c))) + "</" + cell + ">")
				}
				b.WriteString("</tr>\n")
				row++
			}
			i--
			b.WriteString("</table>\n")
		default:
			para = append(para, strings.TrimSpace(line))
		}
	}
	flush()
	return template.HTML(b.String())
}

// inline renders code spans and emphasis in one line of text. A code span
// naming a problem code links to its explanation.
func (r *docsRenderer) inline(s string) template.HTML {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 { // an unclosed backtick: show it as it is
		parts[len(parts)-2] += "`" + parts[len(parts)-1]
		parts = parts[:len(parts)-1]
	}
	var b strings.Builder
	for i, p := range parts {
		esc := template.HTMLEscapeString(p)
		switch {
		case i%2 == 0:
			b.WriteString(emphasis.ReplaceAllString(esc, "<em>$1</em>"))
		case r.codes[p]:
			b.WriteString(`<a href="#problem-` + esc + `"><code>` + esc + `</code></a>`)
		default:
			b.WriteString("<code>" + esc + "</code>")
		}
	}
	return template.HTML(b.String())
}
