#!/usr/bin/env bash
# The main job: the dev stack (the Thanos tutorial) on the local Docker host.
#
#   bash scripts/up.sh            # set up and deploy the dev stack
#   bash scripts/up.sh --destroy  # tear it down
#
# With the Pulumi CLI on PATH this is a real `pulumi up` with a local file
# state backend (.pulumi-state/, no login). Without it (the CLI and provider
# plugins cannot be downloaded on every machine), the same stack program runs
# under the SDK's mock engine and the e2e harness creates its Docker
# resources on the local engine, from locally built images of the pinned
# versions (scripts/e2e-setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
stack="${STACK:-dev}"
action=up; [[ "${1:-}" == "--destroy" ]] && action=destroy
log() { echo "[up] $(date +%H:%M:%S) $*"; }

if command -v pulumi >/dev/null 2>&1; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
  # Local dev state only; set your own passphrase to encrypt secrets in it.
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-agentstream-dev}"
  pulumi stack select --create "$stack" --non-interactive
  log "installing the program's dependencies (.venv)"
  pulumi install
  if [[ "$action" == up ]]; then
    pulumi up --yes --stack "$stack" --non-interactive
    pulumi stack output --stack "$stack"
  else
    pulumi destroy --yes --stack "$stack" --non-interactive
  fi
else
  log "no Pulumi CLI on PATH: running stack '$stack' through the local harness (see README)"
  python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  [[ "$action" == up ]] && bash scripts/e2e-setup.sh
  python3 scripts/local_stack.py "$action" "$stack"
fi
