#!/usr/bin/env bash
# deploy/build-image.sh [TAG]: builds approvald as a static binary
# (CGO_ENABLED=0) and packages it with Debian's buildah into the image that
# deploy/Containerfile describes, tagged TAG (default localhost/approvald:dev).
# Nothing is pulled: the base is scratch, and the CA certificates and time
# zone data come from this machine (/etc/ssl/certs/ca-certificates.crt,
# /usr/share/zoneinfo). Needs go, git and buildah; runs as root (or under
# buildah unshare).
#
# Environment: APPROVALD_VERSION (default: git describe), APPROVALD_SOURCE
# (the org.opencontainers.image.source label; default: the origin remote's
# URL), STORAGE_DRIVER=vfs to skip overlay (see lib.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tag=${1:-localhost/approvald:dev}
export PATH="$PATH:/usr/local/go/bin"
source "$here/lib.sh"

for tool in go buildah; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is not installed" >&2; exit 1; }
done

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

# Version and revision from git when this is a checkout; the binary gets its
# module version from the same place (-buildvcs), which approvald reports.
buildvcs=false
revision=unknown
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
  buildvcs=true
  revision=$(git -C "$root" rev-parse HEAD)
fi
version=${APPROVALD_VERSION:-$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo devel)}
source_url=${APPROVALD_SOURCE:-$(git -C "$root" remote get-url origin 2>/dev/null || echo unknown)}
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

start=$SECONDS
(cd "$root" && CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs="$buildvcs" \
  -ldflags "-s -w" -o "$ctx/approvald" ./cmd/approvald)
echo "build-image: binary built in $((SECONDS - start))s, $(stat -c %s "$ctx/approvald") bytes"

cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
cp -a /usr/share/zoneinfo "$ctx/zoneinfo"
mkdir "$ctx/data"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$ctx/group"

choose_store
buildah "${BUILDAH_STORE[@]}" build --quiet --pull=never \
  --file "$here/Containerfile" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --build-arg CREATED="$created" --build-arg SOURCE="$source_url" \
  --tag "$tag" "$ctx" >/dev/null
size=$(buildah "${BUILDAH_STORE[@]}" images --format '{{.Size}}' "$tag" | head -1)
echo "build-image: $tag ($version, $revision): $size unpacked"
