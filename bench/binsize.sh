#!/usr/bin/env bash
# Size of approvald's binary by module: the symbols of `go tool nm -size`
# summed by the module that defines them (the standard library by its
# top-level package; runtime tables such as go:func.* on a line of their
# own), leaving out .bss and .noptrbss, which take no room in the file and
# no memory until written. Builds the work tree unless a binary is given.
#   bash bench/binsize.sh [approvald-binary] [lines=20]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
bin=${1:-}
lines=${2:-20}
if [ -z "$bin" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  go build -o "$tmp/approvald" ./cmd/approvald
  bin=$tmp/approvald
fi
# sections: the ELF section table, one section a line: name type address offset size…
sections() { readelf -SW "$bin" | sed -n 's/^ *\[ *[0-9]*\] *//p'; }
echo "# $bin: $(stat -c %s "$bin" | awk '{ printf "%.1f MB", $1 / 1e6 }') on disk; sections (MB):" \
  "$(sections | awk '$1 ~ /^\.(text|rodata|gopclntab|noptrdata|data)$/ { printf "%s %.1f  ", $1, strtonum("0x" $5) / 1e6 }')"
{
  # The modules, longest path first, then the .bss ranges, then the symbols.
  go version -m "$bin" | awk '$1 == "mod" || $1 == "dep" { print "mod", $2 }'
  sections | awk '$1 ~ /bss$/ && $1 != ".tbss" { print "bss", $3, $5 }'
  go tool nm -size "$bin"
} | awk '
  $1 == "mod" { mods[++nmods] = $2; next }
  $1 == "bss" { lo[++nbss] = strtonum("0x" $2); hi[nbss] = lo[nbss] + strtonum("0x" $3); next }
  NF >= 4 {
    addr = strtonum("0x" $1)
    for (i = 1; i <= nbss; i++) if (addr >= lo[i] && addr < hi[i]) next
    name = $4; gsub(/%2e/, ".", name); sub(/^(type:|go:itab\.|\*)/, "", name)
    key = ""
    if (name ~ /^go:/) key = "go: (runtime tables: func data, strings)"
    else for (i = 1; i <= nmods; i++) {
      m = mods[i]
      if (index(name, m ".") == 1 || index(name, m "/") == 1) { if (length(m) > length(key)) key = m }
    }
    if (key == "") { split(name, p, /[.\/]/); key = "std: " p[1] }
    size[key] += $2; total += $2
  }
  END {
    for (k in size) printf "%.2f\t%.1f%%\t%s\n", size[k] / 1e6, 100 * size[k] / total, k
    printf "%.2f\t100%%\tall symbols outside .bss\n", total / 1e6
  }' | sort -t$'\t' -k1,1 -nr | head -n "$((lines + 1))" | awk -F'\t' 'BEGIN { print "| MB | share | module |"; print "|---:|---:|---|" } { printf "| %s | %s | %s |\n", $1, $2, $3 }'
