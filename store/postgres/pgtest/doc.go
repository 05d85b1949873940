// Package pgtest gives each test a PostgreSQL schema of its own, so that
// tests of the PostgreSQL store run in parallel against one server without
// seeing each other's data.
//
// The server is the one TEST_DATABASE_URL names, for instance
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Without it
// the tests skip, unless APPROVALD_REQUIRE_POSTGRES=1 (as in CI), which makes
// them fail instead.
package pgtest
