package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithSearchPath(t *testing.T) {
	tests := []struct {
		base, want string
	}{
		{"postgres://postgres@127.0.0.1:5432/postgres", "postgres://postgres@127.0.0.1:5432/postgres?search_path=t_1"},
		{"postgres://u:p%40ss@db/app?sslmode=disable", "postgres://u:p%40ss@db/app?search_path=t_1&sslmode=disable"},
		{"postgresql://db/app?search_path=public&application_name=x", "postgresql://db/app?application_name=x&search_path=t_1"},
		{"host=db dbname=app sslmode=disable", "host=db dbname=app sslmode=disable search_path=t_1"},
	}
	for _, tc := range tests {
		got, err := withSearchPath(tc.base, "t_1")
		if err != nil || got != tc.want {
			t.Errorf("withSearchPath(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
		}
		cfg, err := pgx.ParseConfig(got)
		if err != nil {
			t.Errorf("pgx cannot parse %q: %v", got, err)
			continue
		}
		if sp := cfg.RuntimeParams["search_path"]; sp != "t_1" {
			t.Errorf("%q: pgx takes search_path to be %q, want t_1", got, sp)
		}
	}
}

func TestURL_SchemaOfItsOwn(t *testing.T) {
	t.Parallel()
	var schemas [2]string
	for i := range schemas {
		conn, err := pgx.Connect(t.Context(), URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var tables int
		err = conn.QueryRow(t.Context(),
			"SELECT current_schema(), (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())",
		).Scan(&schemas[i], &tables)
		if err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("schema %s has %d tables, want none", schemas[i], tables)
		}
	}
	if schemas[0] == schemas[1] || len(schemas[0]) != len("t_")+16 {
		t.Errorf("two URLs have the schemas %q and %q, want two different t_<16 hex>", schemas[0], schemas[1])
	}
}
