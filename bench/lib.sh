# Helpers shared by the bench scripts; source it from the repository root.
# Each script builds approvald and approvald-load into a temporary folder,
# starts what it measures on loopback ports, and stops it on exit.

export PATH="$PATH:/usr/local/go/bin"

bench_tmp=$(mktemp -d)
bench_pids=()
bench_cleanup() {
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$bench_tmp"
}
trap bench_cleanup EXIT

# The keys every script's server accepts (random per run).
export APPROVALD_ADMIN_KEY="apd_bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export APPROVALSERVICEAPIKEY="gw_bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# machine: one line on what else the machine was doing (load average).
machine() { echo "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"; }

# build [load]: approvald (unless "load") and approvald-load into $bench_tmp.
build() {
  if [ "${1:-}" != load ]; then
    go build -o "$bench_tmp/approvald" ./cmd/approvald
    approvald="$bench_tmp/approvald"
  fi
  go build -o "$bench_tmp/approvald-load" ./cmd/approvald-load
  load="$bench_tmp/approvald-load"
}

# build_or_use [BINARY]: approvald-load into $bench_tmp, and approvald
# too unless BINARY names one to measure (which then is $approvald).
build_or_use() {
  if [ -n "${1:-}" ]; then
    approvald=$1
    build load
  else
    build
  fi
}

# port_free PORT: fails when something listens on 127.0.0.1:PORT.
port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    echo "127.0.0.1:$1 is taken; stop what listens there or change the port" >&2
    return 1
  fi
}

# wait_ready URL: waits (10 s at most) until URL/readyz answers 200.
wait_ready() {
  for _ in $(seq 1 100); do
    curl -sf "$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not become ready" >&2
  return 1
}

# start_approvald PORT DATABASE [flags…]: starts approvald as the scripts
# run it (rate limits off, as a load from one principal would hit them;
# warnings only in the log; no secrets folder; the gateway's Publish
# upstream at 127.0.0.1:$UPSTREAM_PORT) and sets approvald_pid.
start_approvald() {
  local port=$1 db=$2
  shift 2
  port_free "$port"
  APPROVALD_RATE_LIMIT=-1 SECRETS_MNT_PATH="$bench_tmp/secrets" \
    PUBLISH_CONTAINER_NAME=127.0.0.1 PUBLISH_CONTAINER_PORT="${UPSTREAM_PORT:-18003}" \
    "$approvald" --addr "127.0.0.1:$port" --database "$db" --log-level warn "$@" \
    >>"$bench_tmp/approvald.log" 2>&1 &
  approvald_pid=$!
  bench_pids+=("$approvald_pid")
  wait_ready "http://127.0.0.1:$port"
}

# stop_approvald: stops the server start_approvald started.
stop_approvald() {
  kill "$approvald_pid" 2>/dev/null || true
  wait "$approvald_pid" 2>/dev/null || true
}

# proc_ticks PID: the CPU time (user + system) PID has used, in clock ticks
# (getconf CLK_TCK a second); 0 when it is gone.
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# pg_ticks: the CPU time of every running postgres process, in clock ticks:
# the database's share of a run is the difference across it (other clients
# of the same server count too, so run nothing else meanwhile).
pg_ticks() {
  local s=0 p
  for p in $(pgrep -x postgres); do s=$((s + $(proc_ticks "$p"))); done
  echo "$s"
}

# pg_db SERVER-URL NAME: prints the URL of database NAME on the server of
# SERVER-URL (same user, host and options).
pg_db() {
  local server=$1 name=$2 base opts=""
  base=${server%%\?*}
  [[ $server == *\?* ]] && opts="?${server#*\?}"
  echo "${base%/*}/$name$opts"
}

# medians KEY-FIELDS < lines: reads whitespace-separated lines, groups them
# by their first KEY-FIELDS fields and prints, per group in order of first
# appearance, the key and the median of every other field (numbers only).
medians() {
  awk -v k="$1" '
    {
      key = $1; for (i = 2; i <= k; i++) key = key " " $i
      if (!(key in n)) { order[++groups] = key; width[key] = NF }
      n[key]++
      for (i = k + 1; i <= NF; i++) v[key, i, n[key]] = $i
    }
    END {
      for (g = 1; g <= groups; g++) {
        key = order[g]; line = key
        for (i = k + 1; i <= width[key]; i++) {
          m = n[key]
          for (a = 1; a <= m; a++) s[a] = v[key, i, a] + 0
          for (a = 2; a <= m; a++) { x = s[a]; b = a - 1; while (b >= 1 && s[b] > x) { s[b + 1] = s[b]; b-- } s[b + 1] = x }
          med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
          line = line " " med
        }
        print line
      }
    }'
}
