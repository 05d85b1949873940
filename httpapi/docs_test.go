package httpapi

import "testing"

// BenchmarkDocsRender measures what the first GET /docs costs: loading
// openapi.json, parsing the template and rendering the page.
func BenchmarkDocsRender(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := renderDocs(openapiJSON); err != nil {
			b.Fatal(err)
		}
	}
}
