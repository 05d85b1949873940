#!/usr/bin/env bash
# deploy/smoke-test.sh [TAG]: runs the image that build-image.sh built
# (default localhost/approvald:dev) the way a cluster would, with runc and
# no container engine: skopeo copies it to an OCI layout, umoci unpacks it
# into a runtime bundle, and runc runs that bundle with a read-only root
# filesystem and the host's network (process.rlimits are dropped from the
# bundle's config.json: this sandbox refuses them).
#
# Twice: on the embedded SQLite in a temporary directory bind-mounted on
# /data, then on a fresh database of the PostgreSQL server at
# $TEST_DATABASE_URL. Each run must answer /healthz and /readyz, run as uid
# 65532 on a read-only root, and stop cleanly on SIGTERM. It prints the
# image's size and the time from `runc run` to the first 200 of /readyz.
# Needs root, skopeo, umoci, runc, jq, curl, psql.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tag=${1:-localhost/approvald:dev}
source "$here/lib.sh"

for tool in skopeo umoci runc jq curl psql buildah; do
  command -v "$tool" >/dev/null || { echo "smoke-test: $tool is not installed" >&2; exit 1; }
done
[ -n "${TEST_DATABASE_URL:-}" ] || { echo "smoke-test: TEST_DATABASE_URL is not set" >&2; exit 1; }

work=$(mktemp -d /tmp/approvald-smoke.XXXXXX)
container=""
database=""
cleanup() {
  if [ -n "$container" ]; then
    runc kill "$container" KILL >/dev/null 2>&1 || true
    runc delete --force "$container" >/dev/null 2>&1 || true
  fi
  if [ -n "$database" ]; then
    psql "$TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

choose_store
skopeo copy --quiet "containers-storage:$STORE_REF$tag" "oci:$work/oci:approvald"
layers=$(jq '[.layers[].size] | add' "$work/oci/blobs/sha256/$(jq -r '.manifests[0].digest' "$work/oci/index.json" | cut -d: -f2)")
unpacked=$(buildah "${BUILDAH_STORE[@]}" images --format '{{.Size}}' "$tag" | head -1)
echo "smoke-test: image $tag: $unpacked unpacked, $((layers / 1000)) kB compressed ($(awk -v b="$layers" 'BEGIN {printf "%.1f", b / 1e6}') MB)"

umoci unpack --image "$work/oci:approvald" "$work/bundle" >/dev/null

# free_port prints a loopback port nobody listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# run_container NAME DATA ARGS...: runs the bundle with DATA on /data and
# approvald's ARGS after the image's entrypoint, checks it, and stops it.
run_container() {
  local name=$1 data=$2; shift 2
  local port; port=$(free_port)
  local args; args=$(jq -cn --args '$ARGS.positional' -- /approvald --addr "127.0.0.1:$port" "$@")
  # The image's config as umoci wrote it, changed only where this sandbox or
  # the test needs: no rlimits, a read-only root, the host's network
  # namespace, the data directory bind-mounted, the test's arguments.
  jq --argjson args "$args" --arg data "$data" '
      del(.process.rlimits)
    | .root.readonly = true
    | .process.terminal = false
    | .process.args = $args
    | .linux.namespaces |= map(select(.type != "network"))
    | .mounts += [{"destination": "/data", "type": "bind", "source": $data, "options": ["rbind", "rw"]}]
    ' "$work/bundle/config.json" >"$work/config.json"
  mv "$work/config.json" "$work/bundle/config.json"

  container="approvald-smoke-$name-$$"
  local log="$work/$name.log" start end
  start=$(date +%s%N)
  runc run --detach --bundle "$work/bundle" "$container" </dev/null >"$log" 2>&1
  local ready=""
  for _ in $(seq 1 400); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; then ready=1; break; fi
    sleep 0.025
  done
  end=$(date +%s%N)
  if [ -z "$ready" ]; then
    echo "smoke-test: $name: /readyz did not answer 200 within 10 s; the container's log:" >&2
    cat "$log" >&2
    return 1
  fi
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null

  local pid uid
  pid=$(runc state "$container" | jq -r .pid)
  uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
  if [ "$uid" != "65532 65532 65532 65532" ]; then
    echo "smoke-test: $name: the container runs as uid $uid, not 65532" >&2; return 1
  fi
  # The root mount as the container sees it must be read-only.
  if ! awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo" | grep -qE '(^|,)ro(,|$)'; then
    echo "smoke-test: $name: the root filesystem is not read-only" >&2; return 1
  fi

  runc kill "$container" TERM
  local stopped=""
  for _ in $(seq 1 200); do
    [ "$(runc state "$container" 2>/dev/null | jq -r .status)" = stopped ] && { stopped=1; break; }
    sleep 0.05
  done
  [ -n "$stopped" ] || { echo "smoke-test: $name: did not stop within 10 s of SIGTERM" >&2; cat "$log" >&2; return 1; }
  runc delete "$container"
  container=""
  if grep -q '"level":"ERROR"' "$log"; then
    echo "smoke-test: $name: errors in the log:" >&2; cat "$log" >&2; return 1
  fi
  echo "smoke-test: $name: uid 65532, read-only root, /readyz 200 after $(( (end - start) / 1000000 )) ms (runc run → /readyz), stopped on SIGTERM"
}

# SQLite on a bind-mounted /data, owned by the image's user.
mkdir "$work/data"
chown 65532:65532 "$work/data"
run_container sqlite "$work/data"
[ -s "$work/data/approvald.db" ] || { echo "smoke-test: sqlite: no database file in /data" >&2; exit 1; }

# PostgreSQL: a fresh database on the CI server.
database="approvald_smoke_$$_$RANDOM"
psql "$TEST_DATABASE_URL" -qc "CREATE DATABASE $database" >/dev/null
dsn=$(printf '%s' "$TEST_DATABASE_URL" | sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\\1/$database#")
mkdir "$work/empty"
chown 65532:65532 "$work/empty"
run_container postgres "$work/empty" --database "$dsn"
tables=$(psql "$dsn" -Atc "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
[ "$tables" -gt 0 ] || { echo "smoke-test: postgres: no tables were created" >&2; exit 1; }
echo "smoke-test: postgres: $tables tables created in $database"
echo "smoke-test: ok"
