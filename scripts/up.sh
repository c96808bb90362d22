#!/usr/bin/env bash
# The main job: the dev stack (the Thanos tutorial) on the local Docker host,
# deployed by the real Pulumi engine with a local file state backend.
#
#   bash scripts/up.sh              # set up, policy-tested `pulumi up`, outputs, tutorial check
#   bash scripts/up.sh --destroy    # `pulumi destroy`
#   STACK=other bash scripts/up.sh  # another Docker stack file
#
# Set-up is idempotent and cached: the Pulumi CLI (on PATH, or built from the
# Go module proxy by ../shared/tools/pulumi-offline), a Docker engine, the
# pinned images (present, pulled, or built locally: scripts/images.sh), the
# program's .venv and the policy pack's venv (`pulumi install`).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
LOG_TAG=up
cd "$AGENTSTREAM_ROOT"
stack="${STACK:-dev}"
action=up
case "${1:-}" in
  "") ;;
  --destroy) action=destroy ;;
  *) echo "usage: $0 [--destroy]" >&2; exit 2 ;;
esac

ensure_pulumi
use_local_backend
log "state backend: $PULUMI_BACKEND_URL"
pulumi stack select --create "$stack" --non-interactive

if [[ "$action" == destroy ]]; then
  log "pulumi destroy ($stack)"
  pulumi install >/dev/null
  pulumi destroy --yes --stack "$stack" --non-interactive --skip-preview
  exit 0
fi

ensure_docker
bash scripts/images.sh
log "installing the program's dependencies (.venv) and the policy pack's (policy/venv)"
pulumi install
(cd policy && pulumi install)
log "pulumi up ($stack), gated by the policy pack in policy/"
pulumi up --yes --stack "$stack" --non-interactive --policy-pack policy
pulumi stack output --stack "$stack"

# The tutorial's check: every fleet's targets through Query, deduplicated.
query_url="$(pulumi stack output query_url --stack "$stack" 2>/dev/null || true)"
fleets="$(pulumi stack output fleets --json --stack "$stack" 2>/dev/null || echo '{}')"
if [[ -n "$query_url" ]]; then
  log "checking the global view at $query_url (up and go_goroutines per cluster, deduplicated)"
  python3 - "$query_url" "$fleets" <<'PY'
import json, sys, time, urllib.parse, urllib.request
url, fleets = sys.argv[1], json.loads(sys.argv[2])
def q(expr):
    u = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "dedup": "true"})
    with urllib.request.urlopen(u, timeout=10) as r:
        return json.load(r)["data"]["result"]
deadline = time.time() + 180
while True:
    try:
        ok = all(len(q(f'{m}{{cluster="{f}"}}')) == len(agents) for f, agents in fleets.items() for m in ("up", "go_goroutines"))
    except OSError:
        ok = False
    if ok or time.time() > deadline:
        break
    print("[up] waiting for every agent's series in Query ...", file=sys.stderr, flush=True)
    time.sleep(5)
for f, agents in fleets.items():
    up = {s["metric"]["instance"]: s["value"][1] for s in q(f'up{{cluster="{f}"}}')}
    g = q(f'go_goroutines{{cluster="{f}"}}')
    print(f"  cluster={f}: up {up}, go_goroutines series {len(g)} (agents: {len(agents)})")
sys.exit(0 if ok else 1)
PY
fi
log "done: Query UI/API at ${query_url:-<no query in this stack>}; 'bash scripts/up.sh --destroy' removes the stack"
