package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"approvald/store/postgres/pgtest"
)

// dbSecret is the password the tests put in database URLs.
const dbSecret = "Db-S3cret-Passw0rd"

// runFails runs approvald with env, expecting it to fail at start, and
// returns the error and everything it wrote.
func runFails(t *testing.T, args []string, env map[string]string) (error, string) {
	t.Helper()
	env["APPROVALD_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr syncBuffer
	err := run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr, nil)
	return err, stdout.String() + stderr.String()
}

func TestRun_DatabasePasswordInNeitherLogNorError(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://approvald:" + dbSecret + "@127.0.0.1:notaport/approvald",              // pgx cannot parse it
		"postgres://approvald:" + dbSecret + "/x@127.0.0.1/approvald",                     // nor this: a '/' in the password
		"postgres://approvald@127.0.0.1:1/approvald?sslmode=disable&password=" + dbSecret, // nothing listens
		"postgres://approvald@127.0.0.1:1/approvald?sslmode=bogus&sslpassword=" + dbSecret,
		"host=127.0.0.1 user=approvald password=" + dbSecret + " dbname=approvald", // not a URL: refused
		"host=127.0.0.1 user=approvald password='" + dbSecret + " x' dbname=approvald",
		"mysql://approvald:" + dbSecret + "@127.0.0.1/approvald",
	} {
		err, out := runFails(t, nil, map[string]string{"APPROVALD_DATABASE": dsn})
		if err == nil {
			t.Fatalf("run with %s succeeded", redactDatabase(dsn))
		}
		if strings.Contains(err.Error(), dbSecret) || strings.Contains(out, dbSecret) {
			t.Errorf("the password of %s leaked:\nerror: %v\noutput: %s", redactDatabase(dsn), err, out)
		}
	}
}

func TestRun_HelpAndFlagErrorsHideSecretsFromTheEnvironment(t *testing.T) {
	t.Parallel()
	const natsToken = "Nats-T0ken-Secret"
	env := map[string]string{
		"APPROVALD_DATABASE": "postgres://approvald:" + dbSecret + "@db/approvald",
		"APPROVALD_NATS_URL": "nats://" + natsToken + "@nats:4222",
	}
	for _, args := range [][]string{{"--help"}, {"--no-such-flag"}} {
		err, out := runFails(t, args, env)
		if strings.Contains(out, dbSecret) || strings.Contains(out, natsToken) || (err != nil && strings.Contains(err.Error(), dbSecret)) {
			t.Errorf("%v shows a secret:\n%s", args, out)
		}
		if !strings.Contains(out, "postgres://approvald:xxxxx@db/approvald") || !strings.Contains(out, "nats://xxxxx@nats:4222") {
			t.Errorf("%v does not show the redacted defaults:\n%s", args, out)
		}
	}
}

// TestRun_StartupLogRedactsTheDatabaseURL starts the server on PostgreSQL
// (which trusts the test's connections, whatever the password) with a
// password in the userinfo and in the query.
func TestRun_StartupLogRedactsTheDatabaseURL(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbSecret)
	q := u.Query()
	q.Set("password", dbSecret)
	u.RawQuery = q.Encode()
	_, logs, stop := startServerLogs(t, map[string]string{"APPROVALD_DATABASE": u.String()})
	stop()
	if strings.Contains(logs.String(), dbSecret) {
		t.Errorf("the database password is in the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), ":xxxxx@") || !strings.Contains(logs.String(), "password=xxxxx") {
		t.Errorf("the start-up log does not show the redacted database URL:\n%s", logs)
	}
}

func TestRedactUserinfo(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                    "",
		"nats://nats:4222":                    "nats://nats:4222",
		"nats://token@nats:4222":              "nats://xxxxx@nats:4222",
		"nats://u:p@a:4222,nats://u:p@b:4222": "nats://xxxxx@a:4222,nats://xxxxx@b:4222",
		"tls://u:p/w@nats:4222":               "tls://xxxxx@nats:4222",
		"u:p@nats:4222":                       "xxxxx@nats:4222",
		"nats://nats:4222/?name=a@b":          "nats://nats:4222/?name=a@b",
	} {
		if got := redactUserinfo(in); got != want {
			t.Errorf("redactUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
