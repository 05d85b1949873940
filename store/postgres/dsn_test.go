package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"approvald/approval"
)

func TestRedactDSN_HidesEverySecretForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		// Nothing secret: unchanged.
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?sslmode=disable"},
		{"host=h user=u dbname=d", "host=h user=u dbname=d"},
		{"sqlite:approvald.db", "sqlite:approvald.db"},
		{"", ""},
		// URL userinfo.
		{"postgres://u:secret@h/db", "postgres://u:xxxxx@h/db"},
		{"postgresql://u:s%40cret@h:5432/db?sslmode=require", "postgresql://u:xxxxx@h:5432/db?sslmode=require"},
		{"postgres://u:pa:ss@h1:5432,h2:5432/db", "postgres://u:xxxxx@h1:5432,h2:5432/db"},
		{"mysql://u:secret@h/db", "mysql://u:xxxxx@h/db"},
		// Secret query parameters, in any case or escape, anywhere.
		{"postgres://u@h/db?password=secret", "postgres://u@h/db?password=xxxxx"},
		{"postgres://u@h/db?sslmode=verify-full&sslpassword=secret&sslkey=/k.pem&application_name=a",
			"postgres://u@h/db?sslmode=verify-full&sslpassword=xxxxx&sslkey=xxxxx&application_name=a"},
		{"postgres://u@h/db?PASSWORD=secret#frag", "postgres://u@h/db?PASSWORD=xxxxx#frag"},
		{"postgres://host/db?pass%77ord=secret", "postgres://host/db?pass%77ord=xxxxx"},
		{"postgres://host/db?password=super secret&sslmode=disable", "postgres://host/db?password=xxxxx&sslmode=disable"},
		{"postgres://u:pw@h/db?password=secret", "postgres://u:xxxxx@h/db?password=xxxxx"},
		// Malformed URLs (pgx's own redaction test cases): more is hidden, never less.
		{"postgresql://foo::password@host:1:", "postgresql://foo:xxxxx@host:1:"},
		{"postgres://user:pass/word@host:5432/db_name", "postgres://user:xxxxx@host:5432/db_name"},
		{"postgres://user:pass/word?x=y@host/db", "postgres://user:xxxxx@host/db"},
		{"postgres://a@user:sec:ret@host/db", "postgres://a@user:xxxxx@host/db"},
		{"postgres://host:5432/db?application_name=me@example.com&password=supersecret&sslmode=bogus",
			"postgres://host:5432/db?application_name=me@example.com&password=xxxxx&sslmode=bogus"},
		{"postgres://user:pw@host:5432/db?options=x@y&password=supersecret", "postgres://user:xxxxx@host:5432/db?options=x@y&password=xxxxx"},
		{"postgres://host/db@name?password=supersecret", "postgres://host/db@name?password=xxxxx"},
		{"postgres://[foo?bar]/db?password=supersecret", "postgres://[foo?bar]/db?password=xxxxx"},
		// Keyword/value pairs.
		{"host=h user=u password=secret dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"host=h password = secret dbname=d", "host=h password = xxxxx dbname=d"},
		{"host=h password='pass word' user=u", "host=h password=xxxxx user=u"},
		{`host=h password='it\'s a secret' user=u`, "host=h password=xxxxx user=u"},
		{`host=h password=back\ slash user=u`, "host=h password=xxxxx user=u"},
		{"host=h sslpassword=secret sslkey=/etc/k.pem sslmode=verify-full", "host=h sslpassword=xxxxx sslkey=xxxxx sslmode=verify-full"},
		{"host=h\tPassword=secret", "host=h\tPassword=xxxxx"},
		{"host=h password='unterminated secret", "host=h password=xxxxx"},
		{"host=h password=", "host=h password="},
		{"host=h password secret", "host=h password xxxxx"},
		{"postgres:u:secret@h/db", "postgres:xxxxx@h/db"},
	} {
		if got := RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestOpen_ErrorsNeverRepeatTheSecret opens malformed connection strings
// that pgx refuses while echoing them (and url.Parse's error, which pgx
// wraps, repeats the URL as it is).
func TestOpen_ErrorsNeverRepeatTheSecret(t *testing.T) {
	t.Parallel()
	const secret = "Sup3rS3cretPw"
	for _, conn := range []string{
		"postgres://u:" + secret + "@h:notaport/db",
		"postgres://u:" + secret + "/x@h/db",
		"postgres://u@h:notaport/db?password=" + secret,
		"postgres://u@h/db?sslmode=bogus&sslpassword=" + secret,
		"host=h port=notaport password=" + secret,
		"host=h password='" + secret + " with spaces' port=notaport",
		"host=h password='" + secret + `\' quoted' sslmode=bogus`,
		"host=h password = " + secret + " connect_timeout=x",
	} {
		_, perr := pgxpool.ParseConfig(conn)
		if perr == nil {
			t.Fatalf("pgx parsed %q", conn)
		}
		_, err := Open(context.Background(), conn, 1)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", conn)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:8]) {
			t.Errorf("Open(%q) error repeats the secret: %v", conn, err)
		}
		if !strings.Contains(err.Error(), "cannot parse the connection string") {
			t.Errorf("Open(%q) error does not say what failed: %v", conn, err)
		}
		if approval.KindOf(err) != approval.KindInternal {
			t.Errorf("Open(%q) error is of kind %v, want internal", conn, approval.KindOf(err))
		}
	}
}

func TestScrubOpenError_RemovesSecretsAndKeepsTheChain(t *testing.T) {
	t.Parallel()
	cause := errors.New("server said: password Sup3rS3cretPw%2F is wrong")
	err := scrubOpenError("postgres://u:Sup3rS3cretPw%2F@h/db", internal("open", cause))
	if strings.Contains(err.Error(), "Sup3rS3cretPw") {
		t.Errorf("scrubbed error repeats the secret: %v", err)
	}
	if !errors.Is(err, cause) || approval.KindOf(err) != approval.KindInternal {
		t.Errorf("scrubbed error lost its chain: %v", err)
	}
	plain := internal("open", errors.New("connection refused"))
	if got := scrubOpenError("postgres://u:pw-long@h/db", plain); got != plain {
		t.Errorf("an error without secrets was replaced: %v", got)
	}
}
