// Package check holds the tests of approvald's deployment files in deploy/:
// the Helm chart (rendered and linted with Helm's Go packages, every
// document decoded strictly into the typed Kubernetes objects), the compose
// file (loaded with compose-go) and the systemd unit (systemd-analyze), and
// every environment variable they set against `approvald --help`.
//
// It is a module of its own so that Helm, the Kubernetes API and compose-go
// stay out of approvald's go.mod and binary. Run it from this directory:
//
//	go test ./...
//
// With APPROVALD_REQUIRE_DEPLOY_TOOLS=1 (as .ci/deploy.sh sets it) a check
// whose tool is missing fails instead of skipping.
package check
