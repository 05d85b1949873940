package rocrate_test

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"time"

	"approvald/approval"
	"approvald/gateway"
	"approvald/rocrate"
)

// A record built for an approved publication expands offline; its files
// are the root's parts.
func ExampleBuild() {
	decided := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	sum := sha512.Sum512([]byte("concept"))
	size := int64(1234)
	doc, err := rocrate.Build(rocrate.Input{
		Request: &approval.Request{
			ID: "req-1", Title: "Publish demo", Requester: "svc:cr8tor", Status: approval.StatusApproved,
			Version: 1, CreatedAt: decided.Add(-time.Hour), DecidedAt: &decided,
			Reviews: []approval.Review{{Reviewer: "user:alice", Decision: approval.DecisionApprove, At: decided, Version: 1}},
		},
		Run:     gateway.Run{ProjectName: "demo", StartTime: "2025-02-05T01:01:01Z"},
		Files:   []gateway.PublishedFile{{Path: "outputs/my concept.csv", SHA512: hex.EncodeToString(sum[:]), Bytes: &size}},
		BaseURL: "https://approvals.example",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	nodes, err := rocrate.Expand(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range nodes {
		node := n.(map[string]any)
		if node["@id"] == "./" {
			for _, part := range node["http://schema.org/hasPart"].([]any) {
				fmt.Println(part.(map[string]any)["@id"])
			}
		}
	}
	// Output: outputs/my%20concept.csv
}
