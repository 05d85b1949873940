package httpapi

import _ "embed"

//go:generate go run ./docspage/gendocs openapi.json docs.html

// docsHTML is the /docs page, rendered from openapi.json by package
// docspage at build time (go generate ./httpapi); TestDocsPage_IsCurrent
// keeps it in step with the document.
//
//go:embed docs.html
var docsHTML []byte
