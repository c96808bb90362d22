#!/usr/bin/env bash
# The test command: installs what the tests need, then runs them all.
#   1. Python dependencies (requirements-dev.txt, includes the package itself)
#   2. in the background: the real parts for e2e (scripts/e2e-setup.sh: Docker
#      engine, Prometheus/Thanos built from Go modules, the pinned images, the
#      Pulumi CLI and plugins; all cached), while
#   3. unit + policy tests run (mock engine, schemas, renderers, bad input)
#   4. e2e tests: the real Pulumi engine deploys stacks onto the real Docker
#      engine with the real binaries
#   5. Kubernetes tiers on a local cluster (scripts/k8s-tier.sh; its binaries
#      are built in the background from step 2 on): kwok (every Kubernetes
#      stack up/second up/destroy, server-side dry runs), then real pods
# Set AGENTSTREAM_SKIP_E2E=1 to run only steps 1 and 3, AGENTSTREAM_SKIP_K8S=1
# to skip step 5.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[test] $(date +%H:%M:%S) $*"; }
# Policy packs need it with the offline language host (see scripts/lib.sh).
export PYTHONUNBUFFERED=1
start=$(date +%s)

log "installing Python dependencies"
python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt

setup_pid=
envfile="$(mktemp)"
if [[ "${AGENTSTREAM_SKIP_E2E:-}" != 1 ]]; then
  log "setting up the real parts for e2e in the background (progress lines start with [e2e-setup]/[images]/pulumi-offline)"
  bash scripts/e2e-setup.sh >"$envfile" &
  setup_pid=$!
fi
k8s_pid=
if [[ "${AGENTSTREAM_SKIP_E2E:-}" != 1 && "${AGENTSTREAM_SKIP_K8S:-}" != 1 ]]; then
  log "building the local Kubernetes cluster's binaries in the background (progress lines start with [k8s-setup])"
  bash scripts/k8s-setup.sh &
  k8s_pid=$!
fi

log "unit and policy tests"
unit_rc=0
python3 -m pytest -q tests/unit tests/policy || unit_rc=$?
log "unit and policy tests: exit $unit_rc after $(($(date +%s) - start))s"

if [[ -z "$setup_pid" ]]; then
  log "AGENTSTREAM_SKIP_E2E=1: skipping the e2e tests"; exit "$unit_rc"
fi
log "waiting for the e2e set-up to finish"
if ! wait "$setup_pid"; then log "e2e set-up failed"; exit 1; fi
# shellcheck disable=SC1090
source "$envfile"; rm -f "$envfile"
log "set-up done after $(($(date +%s) - start))s; pulumi $(pulumi version) at $(command -v pulumi)"
((unit_rc == 0)) || { log "unit/policy tests failed; not running e2e"; exit "$unit_rc"; }

log "e2e tests (real engine, real Docker, real binaries)"
# -s: progress (pulumi output, waits, counts) shows live.
python3 -m pytest -v -s -m e2e tests/e2e
log "e2e tests passed after $(($(date +%s) - start))s"

if [[ -z "$k8s_pid" ]]; then
  log "AGENTSTREAM_SKIP_K8S=1: skipping the Kubernetes tiers"
else
  log "waiting for the k8s-local build"
  if ! wait "$k8s_pid"; then log "k8s-local build failed"; exit 1; fi
  for tier in kwok real; do
    log "Kubernetes tier: $tier"
    bash scripts/k8s-tier.sh "$tier"
    log "Kubernetes tier $tier passed after $(($(date +%s) - start))s"
  done
fi
log "all tests passed in $(($(date +%s) - start))s"
