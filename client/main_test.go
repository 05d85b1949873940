package client_test

import (
	"context"
	"os"
	"testing"
	"time"

	"approvald/client"
	"approvald/client/clienttest"
)

// approvaldBin is the approvald binary built for this package's tests, and
// shared the server most tests use; each test makes its own keys, so their
// principals and requests never mix.
var (
	approvaldBin string
	shared       *clienttest.Server
)

func TestMain(m *testing.M) {
	os.Exit(clienttest.Main(m, func(_, bin string, s *clienttest.Server) error {
		approvaldBin, shared = bin, s
		return nil
	}))
}

// newClient returns a client of base with token, failing t on a bad URL.
func newClient(t *testing.T, base, token string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(base, append([]client.Option{client.WithToken(token)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// actors are the keys of one test on the shared server: a requester, two
// reviewers and the admin.
type actors struct {
	requester, reviewer, reviewer2, admin *client.Client
	requesterKey                          clienttest.Key
}

func setup(t *testing.T) actors {
	t.Helper()
	req := shared.NewKey(t, "requester", "approvals:create", "approvals:read")
	return actors{
		requester:    newClient(t, shared.URL, req.Secret),
		requesterKey: req,
		reviewer:     newClient(t, shared.URL, shared.NewKey(t, "reviewer", "approvals:review", "approvals:read").Secret),
		reviewer2:    newClient(t, shared.URL, shared.NewKey(t, "reviewer2", "approvals:review", "approvals:read").Secret),
		admin:        newClient(t, shared.URL, clienttest.AdminKey),
	}
}

// testContext is a context that ends with the test, or after a minute.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
