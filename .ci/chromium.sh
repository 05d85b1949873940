# Sourced by .ci/run (and usable by hand): ensure_chromium makes sure a
# headless-capable Chromium is installed for the web UI's browser tests
# (web/browser_test.go), installing Debian's chromium with apt-get when
# /usr/bin/chromium is missing, and exports APPROVALD_CHROMIUM with its path.
# With APPROVALD_REQUIRE_BROWSER=1 (which .ci/run sets) a browser test that
# cannot start the browser fails instead of skipping.

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
