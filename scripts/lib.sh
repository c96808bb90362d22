# Shared by scripts/*.sh (sourced, not run). Finds or builds what the real
# deployment path needs: the Pulumi CLI and its plugins, a Docker engine, the
# pinned images.
# shellcheck shell=bash

AGENTSTREAM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AGENTSTREAM_CACHE="${AGENTSTREAM_CACHE:-$HOME/.cache/agentstream}"
export AGENTSTREAM_CACHE

log() { echo "[${LOG_TAG:-agentstream}] $(date +%H:%M:%S) $*" >&2; }

# A Python policy pack announces its port on stdout without flushing
# (pulumi_policy 1.21); upstream's language host runs plugins unbuffered, the
# offline stand-in does not, so without this `pulumi preview --policy-pack`
# waits forever. Harmless everywhere else.
export PYTHONUNBUFFERED=1

# The team's offline tools live beside the checkout (../shared), or at the
# machine's /work/shared for clones made elsewhere (CI may clone into /tmp).
shared_tools() {
  local d
  for d in "${AGENTSTREAM_SHARED:-}" "$AGENTSTREAM_ROOT/../shared" /work/shared; do
    if [[ -n "$d" && -d "$d/tools" ]]; then (cd "$d/tools" && pwd); return 0; fi
  done
  return 1
}

# A `pulumi` on PATH (a user's machine) is used as it is. Otherwise the CLI and
# the docker/kubernetes/random plugins are built from the Go module proxy by
# ../shared/tools/pulumi-offline (cached; the first build takes ~25-30 min of
# CPU on 2 cores) and put on PATH with a private PULUMI_HOME.
ensure_pulumi() {
  if command -v pulumi >/dev/null 2>&1; then
    log "using the Pulumi CLI on PATH: $(command -v pulumi) ($(pulumi version 2>/dev/null))"
    return 0
  fi
  local tools env_lines
  tools="$(shared_tools)" || {
    log "no pulumi on PATH and no ../shared/tools/pulumi-offline to build one; install the Pulumi CLI (https://www.pulumi.com/docs/install/)"
    return 1
  }
  log "no pulumi on PATH: building/finding it with $tools/pulumi-offline (cached; progress below)"
  env_lines="$(bash "$tools/pulumi-offline/install.sh" --print-env)" || { log "pulumi-offline failed (see its log above)"; return 1; }
  eval "$env_lines"
  log "Pulumi CLI $(pulumi version) from $(command -v pulumi), plugins in $PULUMI_HOME"
}

# dpkg takes one apt-get at a time, and e2e-setup.sh and k8s-setup.sh run
# side by side (a cold CI run failed: "Could not get lock
# /var/lib/dpkg/lock-frontend"). Ours queue on a lock of our own; an apt-get
# started by a shared tool waits for dpkg's lock (APT_CONFIG: read before
# apt.conf, in addition to it).
AGENTSTREAM_APT_CONF="${TMPDIR:-/tmp}/agentstream-apt.conf"
echo 'DPkg::Lock::Timeout "900";' >"$AGENTSTREAM_APT_CONF"
export APT_CONFIG="$AGENTSTREAM_APT_CONF"
apt_install() {  # packages...: installed, with an update first only if needed
  (
    flock 9
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$@" >&2 || { apt-get update -q >&2 && apt-get install -y -q "$@" >&2; }
  ) 9>"${TMPDIR:-/tmp}/agentstream-apt.lock"
}

# A Docker engine: Debian's docker.io, started if no daemon answers.
ensure_docker() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v file >/dev/null 2>&1 || need+=(file)
  if ! file -L /bin/busybox 2>/dev/null | grep -q "statically linked"; then need+=(busybox-static); fi
  if ((${#need[@]})); then
    log "installing ${need[*]} from Debian"
    apt_install "${need[@]}" >/dev/null 2>&1
  fi
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    nohup dockerd >/var/log/agentstream-dockerd.log 2>&1 &
    local i
    for i in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/agentstream-dockerd.log"; return 1; }
  fi
  log "docker engine $(docker version --format '{{.Server.Version}}') is up"
}

# The local file state backend: no login, state in .pulumi-state/ of the checkout.
use_local_backend() {
  mkdir -p "$AGENTSTREAM_ROOT/.pulumi-state"
  export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$AGENTSTREAM_ROOT/.pulumi-state}"
  # Encrypts secrets in the local dev state; set your own for anything real.
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-agentstream-dev}"
  export PULUMI_SKIP_UPDATE_CHECK=true
}
