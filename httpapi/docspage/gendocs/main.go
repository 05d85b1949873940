// Command gendocs writes the /docs page for an OpenAPI document:
//
//	go run ./docspage/gendocs openapi.json docs.html
//
// httpapi's go:generate runs it; TestDocsPage_IsCurrent fails when the
// committed page differs from what it writes.
package main

import (
	"fmt"
	"os"

	"approvald/httpapi/docspage"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gendocs OPENAPI.json OUT.html")
		os.Exit(2)
	}
	doc, err := os.ReadFile(os.Args[1])
	if err == nil {
		var page []byte
		if page, err = docspage.Render(doc); err == nil {
			err = os.WriteFile(os.Args[2], page, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
