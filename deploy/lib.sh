# Shared by build-image.sh and smoke-test.sh (sourced): where buildah keeps
# images, and how skopeo names that store.
#
# buildah's default store (overlay, /var/lib/containers/storage) is used when
# overlay mounts work here. Where they do not (some sandboxes and nested
# containers), both scripts use the vfs driver in a store of its own, so the
# two drivers never share one graph root. STORAGE_DRIVER=vfs forces it.

# choose_store sets BUILDAH_STORE (global buildah options) and STORE_REF (the
# "[driver@root+runroot]" prefix of a containers-storage: reference), both
# empty for the default store.
choose_store() {
  BUILDAH_STORE=()
  STORE_REF=""
  if [ "${STORAGE_DRIVER:-}" != vfs ] && overlay_works; then
    return 0
  fi
  local root=/var/lib/containers/storage-vfs runroot=/run/containers/storage-vfs
  BUILDAH_STORE=(--storage-driver vfs --root "$root" --runroot "$runroot")
  STORE_REF="[vfs@$root+$runroot]"
  echo "build-image: using the vfs storage driver in $root" >&2
}

# overlay_works mounts an empty working container in the default store.
overlay_works() {
  local c
  c=$(env -u STORAGE_DRIVER buildah from scratch 2>/dev/null) || return 1
  if env -u STORAGE_DRIVER buildah mount "$c" >/dev/null 2>&1; then
    env -u STORAGE_DRIVER buildah rm "$c" >/dev/null 2>&1
    return 0
  fi
  env -u STORAGE_DRIVER buildah rm "$c" >/dev/null 2>&1
  return 1
}
