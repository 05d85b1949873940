package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"approvald/client"
)

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer) *table { return &table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)} }

func (t *table) header(cols ...string) { t.row(cols...) }

func (t *table) row(cols ...string) {
	for i, c := range cols {
		// A tab or newline in a value would break the columns.
		cols[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// emit prints the API's JSON raw in the chosen format: as it is (indented)
// for json, as YAML for yaml, the names for name, or the table for table.
func (a *app) emit(raw json.RawMessage, draw func(*table), names func() []string) error {
	switch a.output {
	case "json":
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
			return fmt.Errorf("the server's answer is not JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := a.stdout.Write(buf.Bytes())
		return err
	case "yaml":
		b, err := jsonToYAML(raw)
		if err != nil {
			return err
		}
		_, err = a.stdout.Write(b)
		return err
	case "name":
		for _, n := range names() {
			fmt.Fprintln(a.stdout, n)
		}
		return nil
	}
	t := newTable(a.stdout)
	draw(t)
	return t.flush()
}

// emitValue is emit for a value approvalctl made itself.
func (a *app) emitValue(v any, draw func(*table), names func() []string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.emit(b, draw, names)
}

// rawList is the JSON of a list approvalctl prints: the items as the
// server sent them.
type rawList struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

func listOf[T interface{ Raw() json.RawMessage }](items []T) rawList {
	l := rawList{Items: []json.RawMessage{}}
	for _, it := range items {
		l.Items = append(l.Items, it.Raw())
	}
	return l
}

// columns say how one kind of item prints: its table header and row, and
// its name for -o name.
type columns[T any] struct {
	header []string
	row    func(T) []string
	name   func(T) string
}

// emitItem prints one item the server sent: its JSON, YAML, name, or a
// table of one row.
func emitItem[T interface{ Raw() json.RawMessage }](a *app, cols columns[T], it T) error {
	return a.emit(it.Raw(), func(t *table) {
		t.header(cols.header...)
		t.row(cols.row(it)...)
	}, func() []string { return []string{cols.name(it)} })
}

// emitRows prints v for json and yaml, and items as a table or their names
// otherwise.
func emitRows[T any](a *app, v any, cols columns[T], items []T) error {
	return a.emitValue(v, func(t *table) {
		t.header(cols.header...)
		for _, it := range items {
			t.row(cols.row(it)...)
		}
	}, func() []string {
		var names []string
		for _, it := range items {
			names = append(names, cols.name(it))
		}
		return names
	})
}

// emitDone reports that the named item of a kind was deleted, revoked...
// (verb): a line for a table, {verb: name} otherwise.
func (a *app) emitDone(kind, name, verb string) error {
	if a.output == "table" {
		_, err := fmt.Fprintf(a.stdout, "%s %s %s\n", kind, name, verb)
		return err
	}
	return a.emitValue(map[string]any{verb: name}, nil, func() []string { return []string{name} })
}

// show calls the server with call and prints its answer with emit.
func show[T any](a *app, call func(*client.Client) (T, error), emit func(T) error) error {
	cl, err := a.client()
	if err != nil {
		return err
	}
	v, err := call(cl)
	if err != nil {
		return err
	}
	return emit(v)
}

// jsonToYAML turns JSON into block-style YAML, keeping the order of keys
// and numbers exactly as written.
func jsonToYAML(raw []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("converting to YAML: %w", err)
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			n.Style &^= yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
		}
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// yamlOrJSON turns a JSON or YAML document into JSON.
func yamlOrJSON(b []byte) (json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if json.Valid(b) {
		return b, nil
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("neither JSON nor YAML: %w", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("the YAML does not map to JSON: %w", err)
	}
	return out, nil
}

// decodeDocument decodes a JSON or YAML document into v, refusing unknown
// fields.
func decodeDocument(b []byte, v any) error {
	j, err := yamlOrJSON(b)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// readInput reads a file, or standard input for "-".
func (a *app) readInput(path string) ([]byte, error) {
	if path == "-" {
		return readAllLimited(a.stdin, 8<<20)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f, 8<<20)
}

// age is how long ago t was, shortly: 45s, 12m, 3h, 2d.
func age(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// timeOrDash formats an optional time.
func timeOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine collapses the white space of s (a receiver's error page, say)
// into single spaces and shortens it to n runes.
func oneLine(s string, n int) string {
	return truncate(strings.Join(strings.Fields(s), " "), n)
}

// truncate shortens s to n runes.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// argsExactly requires one positional argument per name, and names the
// missing ones in its error.
func argsExactly(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageError{fmt.Errorf("missing %s", strings.Join(names[len(args):], " "))}
		case len(args) > len(names):
			return usageError{fmt.Errorf("unexpected argument %q (%s takes %s)", args[len(names)], cmd.Name(), strings.Join(names, " "))}
		}
		for i, n := range names {
			if strings.TrimSpace(args[i]) == "" && n != "TEXT" {
				return usageError{fmt.Errorf("%s must not be empty", n)}
			}
		}
		return nil
	}
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (%s takes none)", args[0], cmd.Name())}
	}
	return nil
}
