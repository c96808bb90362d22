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
#      stack up/second up/destroy, server-side dry runs), then real pods; in
#      the background, while
#   6. the fault suite (pytest -m faults) runs on Docker, then
#   7. the benchmarks in quick mode (bench/run.py --quick)
# Set AGENTSTREAM_SKIP_E2E=1 to run only steps 1 and 3, AGENTSTREAM_SKIP_K8S=1
# to skip step 5, AGENTSTREAM_SKIP_FAULTS=1 to skip step 6.
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

# The Kubernetes tiers (containerd, no Docker) run in the background while
# the fault suite runs on Docker: they share no names, ports or engines.
tiers_pid=
tiers_rc="$(mktemp)"
if [[ -z "$k8s_pid" ]]; then
  log "AGENTSTREAM_SKIP_K8S=1: skipping the Kubernetes tiers"
else
  log "waiting for the k8s-local build"
  if ! wait "$k8s_pid"; then log "k8s-local build failed"; exit 1; fi
  log "Kubernetes tiers kwok, then real, in the background (their lines start with [k8s])"
  (
    rc=0
    for tier in kwok real; do
      log "Kubernetes tier: $tier"
      bash scripts/k8s-tier.sh "$tier" || { rc=$?; log "Kubernetes tier $tier failed"; break; }
      log "Kubernetes tier $tier passed after $(($(date +%s) - start))s"
    done
    echo "$rc" >"$tiers_rc"
  ) 2>&1 | sed -u 's/^/[k8s] /' &
  tiers_pid=$!
fi

faults_rc=0
if [[ "${AGENTSTREAM_SKIP_FAULTS:-}" == 1 ]]; then
  log "AGENTSTREAM_SKIP_FAULTS=1: skipping the fault suite"
else
  log "fault suite (real binaries on Docker: receivers killed, network cut, object store down, ...)"
  python3 -m pytest -v -s -m faults tests/faults || faults_rc=$?
  log "fault suite: exit $faults_rc after $(($(date +%s) - start))s"
fi

bench_rc=0
log "benchmarks, quick mode (each once, small; results not kept)"
python3 bench/run.py --quick || bench_rc=$?
log "benchmarks --quick: exit $bench_rc after $(($(date +%s) - start))s"

if [[ -n "$tiers_pid" ]]; then
  log "waiting for the Kubernetes tiers"
  wait "$tiers_pid" || true
  k8s_rc="$(cat "$tiers_rc" 2>/dev/null || echo 1)"
  [[ -n "$k8s_rc" ]] || k8s_rc=1
  log "Kubernetes tiers: exit $k8s_rc after $(($(date +%s) - start))s"
  ((k8s_rc == 0)) || exit "$k8s_rc"
fi
rm -f "$tiers_rc"
((faults_rc == 0)) || exit "$faults_rc"
((bench_rc == 0)) || exit "$bench_rc"
log "all tests passed in $(($(date +%s) - start))s"
