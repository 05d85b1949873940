package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// TestDocs_LinksStayInTheRepositoryAndExamplesUseReservedHosts reads the
// README and docs/*.md: every relative link names a file of the
// repository (never one beside it) and every #anchor a heading of its
// page; examples talk to localhost:8000, the default port; and no example
// names a *.internal host, which a server following it would keep looking
// up in DNS (RFC 2606's example.com and .test names are meant for that).
func TestDocs_LinksStayInTheRepositoryAndExamplesUseReservedHosts(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join(root, "README.md"))
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	internal := regexp.MustCompile(`\b[a-z0-9-]+(\.[a-z0-9-]+)*\.internal\b`)
	localPort := regexp.MustCompile(`\blocalhost:(\d+)`)
	for _, page := range pages {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(root, page)
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
				if rel, err := filepath.Rel(root, path); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					t.Errorf("%s links to %s, outside the repository", name, target)
					continue
				}
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s links to %s, which does not exist", name, target)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(path, ".md") && !hasAnchor(t, path, anchor) {
				t.Errorf("%s links to %s: no heading of %s has the anchor #%s", name, target, filepath.Base(path), anchor)
			}
		}
		if name == filepath.Join("docs", "performance.md") {
			continue // its loopback ports are the benchmarks' own
		}
		for _, m := range internal.FindAllString(string(text), -1) {
			t.Errorf("%s names the host %s: use a reserved name (payments.example.com, receiver.test) or 127.0.0.1", name, m)
		}
		for _, m := range localPort.FindAllStringSubmatch(string(text), -1) {
			if m[1] != "8000" {
				t.Errorf("%s sends to %s; approvald listens on :8000 by default", name, m[0])
			}
		}
	}
}

// hasAnchor reports whether a heading of the Markdown file at path (not in
// a code block) has GitHub's anchor for it.
func hasAnchor(t *testing.T, path, anchor string) bool {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inCode := false
	for line := range strings.Lines(string(text)) {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		if githubAnchor(strings.TrimLeft(strings.TrimSpace(line), "# ")) == anchor {
			return true
		}
	}
	return false
}

// githubAnchor is the anchor GitHub gives a heading: lower case, spaces as
// hyphens, punctuation and symbols other than hyphens and underscores
// dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
