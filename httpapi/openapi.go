package httpapi

import (
	_ "embed"
	"net/http"

	"approvald/approval"
)

// openapiJSON is the OpenAPI 3.1 document of this API: the contract.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *server) openapi(w http.ResponseWriter, _ *http.Request, _ approval.Principal) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeRaw(w, http.StatusOK, openapiJSON)
	return nil
}

func (s *server) docs(w http.ResponseWriter, _ *http.Request, _ approval.Principal) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	htmlHeaders(w)
	_, err := w.Write(docsHTML)
	return err
}
