# Sourced by .ci/run (and usable by hand): the third-party tools approvald
# is held to, as its users run them.
#
# ensure_tools installs, inside the repository's ignored directories only:
# - .ci/tools/node_modules: Redocly CLI, Spectral and Stoplight Prism, the
#   exact versions of .ci/tools/package-lock.json (npm ci; npm's cache in
#   .ci/tools/.npm). Needs Node.js 20 or later and npm.
# - .ci/tools/bin/promtool: taken from Debian's prometheus package
#   (apt-get download, unpacked with dpkg-deb) rather than installed, since
#   installing the package would also start a Prometheus server.
# lint_openapi lints httpapi/openapi.json, the document the server embeds
# and serves byte for byte as GET /openapi.json (httpapi's
# TestOpenAPI_ServerAnswersMatchDocument checks that), with both linters and
# the committed .redocly.yaml and .spectral.yaml: any error or warning fails.

tools_dir=.ci/tools

ensure_tools() {
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$node_major" -lt 20 ] || ! command -v npm >/dev/null; then
    echo "Node.js 20 or later and npm are needed for $tools_dir (found node major $node_major)"; return 1
  fi
  (
    cd "$tools_dir" || exit 1
    export npm_config_cache="$PWD/.npm" npm_config_update_notifier=false SCARF_ANALYTICS=false
    npm ci --no-audit --no-fund --loglevel=error
  ) || return 1
  if ! "$tools_dir/bin/promtool" --version >/dev/null 2>&1; then
    local tmp
    tmp=$(mktemp -d "$tools_dir/.deb.XXXXXX")
    if ! apt-cache show prometheus >/dev/null 2>&1; then
      apt-get update -qq || { rm -rf "$tmp"; return 1; }
    fi
    # apt-get download as root warns that the _apt user cannot write here.
    (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null) || { rm -rf "$tmp"; echo "apt-get download prometheus failed"; return 1; }
    mkdir -p "$tools_dir/bin"
    dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -xO ./usr/bin/promtool >"$tools_dir/bin/promtool"
    chmod +x "$tools_dir/bin/promtool"
    rm -rf "$tmp"
  fi
  echo "node $(node --version); $("$tools_dir/bin/promtool" --version 2>&1 | head -n 1)"
}

lint_openapi() {
  local bin=$tools_dir/node_modules/.bin doc=httpapi/openapi.json status=0
  export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
  echo "Redocly CLI $("$bin/redocly" --version 2>/dev/null | tail -n 1)"
  # The Node.js 20 deprecation notice is a box of ║ lines; drop it. With
  # pipefail the pipeline fails when redocly does.
  if ! "$bin/redocly" lint --config .redocly.yaml "$doc" 2>&1 | { grep -v '[║╔╚]' || true; }; then
    status=1
  fi
  echo "Spectral $("$bin/spectral" --version)"
  if ! "$bin/spectral" lint --ruleset .spectral.yaml --fail-severity=warn "$doc"; then
    status=1
  fi
  return "$status"
}
