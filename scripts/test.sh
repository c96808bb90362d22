#!/usr/bin/env bash
# The test command: installs what the tests need, then runs them all.
#   1. Python dependencies (requirements-dev.txt, includes the package itself)
#   2. the real parts for e2e: Docker engine, Prometheus/Thanos binaries built
#      from Go modules, SeaweedFS, local images (scripts/e2e-setup.sh; cached)
#   3. unit + policy tests (mocks, schemas, renderers, bad input)
#   4. e2e tests (real binaries and a real Docker engine)
# Set AGENTSTREAM_SKIP_E2E=1 to run only steps 1 and 3.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[test] $(date +%H:%M:%S) $*"; }

log "installing Python dependencies"
python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt

log "unit and policy tests"
python3 -m pytest -q tests/unit tests/policy

if [[ "${AGENTSTREAM_SKIP_E2E:-}" == 1 ]]; then
  log "AGENTSTREAM_SKIP_E2E=1: skipping the e2e tests"; exit 0
fi
log "setting up the real parts for e2e"
bash scripts/e2e-setup.sh
log "e2e tests"
# -s: the harness prints progress (containers, health, data) as it goes.
python3 -m pytest -v -s -m e2e tests/e2e
