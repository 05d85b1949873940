# Sourced by .ci/run (and usable by hand): ensure_chromium makes sure a
# headless-capable Chromium is installed for the web UI's browser tests
# (web/browser_test.go), installing Debian's chromium with apt-get when
# /usr/bin/chromium is missing, and exports APPROVALD_CHROMIUM with its path.
# With APPROVALD_REQUIRE_BROWSER=1 (which .ci/run sets) a browser test that
# cannot start the browser fails instead of skipping. ensure_axe installs
# axe-core for the accessibility check of those tests.

ensure_chromium() {
  local bin=/usr/bin/chromium
  if [ ! -x "$bin" ]; then
    echo "installing chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -x "$bin" ]; then
    echo "chromium is not installed at $bin"; return 1
  fi
  export APPROVALD_CHROMIUM="$bin"
  # Debian's wrapper script prints a harmless shell warning on some
  # machines; the version line is what matters.
  "$bin" --version 2>/dev/null | head -n 1
}

# ensure_axe installs axe-core, which the browser tests run over every page
# of the UI, with npm ci from web/testdata/axe/package-lock.json (an exact
# version and its checksum) into web/testdata/axe/node_modules (git-ignored),
# and exports APPROVALD_AXE with the path of axe.min.js. The tests read the
# file; they download nothing.
ensure_axe() {
  local dir=web/testdata/axe
  if ! command -v npm >/dev/null; then
    echo "npm is needed to install axe-core (Node.js 18 or later)"; return 1
  fi
  npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null || return 1
  export APPROVALD_AXE="$PWD/$dir/node_modules/axe-core/axe.min.js"
  echo "axe-core $(node -p "require('./$dir/node_modules/axe-core/package.json').version")"
}
