# Sourced by .ci/run (and usable by hand): ensure_postgres makes sure a
# PostgreSQL server with trust auth answers on loopback and exports
# TEST_DATABASE_URL. It uses the machine's server on 127.0.0.1:5432 when that
# one lets the postgres user in without a password; otherwise it starts a
# throwaway cluster (installing PostgreSQL with apt-get if needed) on
# 127.0.0.1:55432, whose files live in a temporary directory.

pg_try() { psql "$1" -tAc 'select 1' >/dev/null 2>&1; }

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_postgres() {
  local url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
  if command -v psql >/dev/null && pg_try "$url"; then
    export TEST_DATABASE_URL="$url"; return 0
  fi
  # The machine's cluster may only be stopped.
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    for v in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
    done
    for _ in $(seq 1 20); do pg_try "$url" && { export TEST_DATABASE_URL="$url"; return 0; }; sleep 0.5; done
  fi
  # A throwaway cluster of our own.
  if ! pg_bin >/dev/null; then
    echo "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  fi
  local bin dir port=55432
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/approvald-pg.XXXXXX)
  chown postgres "$dir" 2>/dev/null || true
  local as=(); [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off" start >/dev/null
  url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  pg_try "$url" || { echo "PostgreSQL did not start"; cat "$dir/log"; return 1; }
  export TEST_DATABASE_URL="$url"
}
