package approval

import (
	"encoding/json"
	"time"
)

// Limits on items. They are part of the API contract.
const (
	MaxItems            = 1000 // items of one request
	MaxItemIDLen        = 128  // characters
	MaxItemNameLen      = 1024 // characters
	MaxItemMediaTypeLen = 255  // characters
	MaxItemMetadata     = 4 << 10
	MaxJustificationLen = 10_000 // characters
	MaxRevokeReasonLen  = 10_000 // characters
	MaxExpressionLen    = 4096   // bytes of a CEL expression
	MaxChangeCycles     = 100    // the most a policy may allow
	MaxBatchReview      = 100    // requests in one batch review
)

// Item is one part of what a request asks approval for. Digest is
// "sha256:<64 hex>" or "sha512:<128 hex>".
type Item struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	MediaType string          `json:"media_type,omitempty"`
	Size      int64           `json:"size"`
	Digest    string          `json:"digest"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// ItemDecision is a reviewer's decision on one item.
type ItemDecision struct {
	ID       string   `json:"id"`
	Decision Decision `json:"decision"` // approve or reject
}

// ItemRef names a decided item in an outcome.
type ItemRef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// ItemOutcome is what was decided item by item.
type ItemOutcome struct {
	Approved []ItemRef `json:"approved"`
	Rejected []ItemRef `json:"rejected"`
	// Partial is true when some items were approved and some rejected.
	Partial bool `json:"partial"`
}

// Revocation records the revocation of an approved request.
type Revocation struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// AutoDecision is the record of an automatic decision: the policy and rule
// whose expression decided, the expression, and the inputs it saw.
type AutoDecision struct {
	Policy     string          `json:"policy"`
	Rule       string          `json:"rule"`
	Expression string          `json:"expression"`
	Inputs     json.RawMessage `json:"inputs"`
}

// AutoPrincipal is the principal of automatic decisions by a policy's rules.
func AutoPrincipal(policy string) string { return "system:policy/" + policy }
