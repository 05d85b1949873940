# Sourced by .ci/run (and usable by hand, as root, from the repository's
# root): deploy_checks holds approvald's deployment files in deploy/ to the
# tools that use them, failing (never skipping) when one is missing:
# - the image: deploy/build-image.sh builds it with buildah (pulling nothing),
#   deploy/smoke-test.sh runs it with runc on SQLite and on a fresh database
#   of $TEST_DATABASE_URL's PostgreSQL;
# - the Helm chart (lint, render, strict decoding into the Kubernetes API
#   types), compose.yaml (compose-go) and approvald.service (systemd-analyze):
#   the tests of the module deploy/check, whose go.mod and go.sum must be tidy.
# ensure_deploy_tools installs what is missing from Debian (apt-get).

# The Debian package of each tool the checks run.
deploy_packages=(buildah:buildah runc:runc umoci:umoci skopeo:skopeo jq:jq curl:curl
  psql:postgresql-client ss:iproute2 systemd-analyze:systemd)

ensure_deploy_tools() {
  local entry missing=()
  for entry in "${deploy_packages[@]}"; do
    command -v "${entry%%:*}" >/dev/null || missing+=("${entry#*:}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing with apt-get: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq || return 1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
  for entry in "${deploy_packages[@]}"; do
    command -v "${entry%%:*}" >/dev/null || { echo "${entry%%:*} is still missing"; return 1; }
  done
}

deploy_checks() (
  set -euo pipefail
  [ "$(id -u)" = 0 ] || { echo "deploy_checks runs buildah and runc as root"; exit 1; }
  [ -n "${TEST_DATABASE_URL:-}" ] || { echo "deploy_checks needs TEST_DATABASE_URL (.ci/postgres.sh)"; exit 1; }
  local start=$SECONDS tag="localhost/approvald:ci-$$"
  ensure_deploy_tools

  echo "--- deploy: image (deploy/build-image.sh)"
  bash deploy/build-image.sh "$tag"
  trap 'buildah rmi "$tag" >/dev/null 2>&1 || true' EXIT

  echo "--- deploy: container smoke test (deploy/smoke-test.sh: runc, SQLite and PostgreSQL)"
  bash deploy/smoke-test.sh "$tag"

  echo "--- deploy: Helm chart, compose.yaml, systemd unit (deploy/check)"
  cd deploy/check
  cp go.mod /tmp/deploy-check.go.mod; cp go.sum /tmp/deploy-check.go.sum
  go mod tidy
  if ! diff -q go.mod /tmp/deploy-check.go.mod >/dev/null || ! diff -q go.sum /tmp/deploy-check.go.sum >/dev/null; then
    echo "deploy/check: go.mod/go.sum are not tidy:"; git --no-pager diff go.mod go.sum; exit 1
  fi
  go vet ./...
  APPROVALD_REQUIRE_DEPLOY_TOOLS=1 go test -count=1 ./...
  echo "(deploy checks took $((SECONDS - start))s)"
)
