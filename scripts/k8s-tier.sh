#!/usr/bin/env bash
# Runs one Kubernetes test tier on a fresh local cluster, then stops it.
#   k8s-tier.sh kwok   real control plane, fake node: every Kubernetes stack
#                      up / second up / destroy, server-side dry runs
#   k8s-tier.sh real   containerd + kubelet: the pipeline on real pods
# The cluster is ../shared/tools/k8s-local (Kubernetes v1.35.4 built from the
# Go module proxy, cached); it is always stopped again (down.sh undoes its
# host changes), also when a test fails. The Pulumi CLI must be on PATH
# (scripts/e2e-setup.sh). To run the same tests against your own cluster,
# skip this script: KUBECONFIG=... pytest -m k8s_kwok (or k8s_real) tests/k8s
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
LOG_TAG=k8s-tier
mode="${1:?usage: k8s-tier.sh kwok|real}"
case "$mode" in kwok|real) ;; *) log "mode must be kwok or real"; exit 2 ;; esac
tools="$(shared_tools)" || { log "no ../shared/tools/k8s-local beside the checkout"; exit 1; }
k8s="$tools/k8s-local"
start=$(date +%s)

bash "$AGENTSTREAM_ROOT/scripts/k8s-setup.sh"
if [[ -f "${K8S_LOCAL_HOME:-$HOME/.cache/k8s-local}/run/pids/kube-apiserver" ]]; then
  log "a k8s-local cluster was left running; stopping it first"
  bash "$k8s/down.sh" >&2 || true
fi
trap 'log "stopping the cluster"; bash "$k8s/down.sh" >&2 || log "down.sh failed"' EXIT
log "starting a fresh cluster (mode $mode)"
bash "$k8s/up.sh" --mode "$mode" >&2
export KUBECONFIG="${K8S_LOCAL_HOME:-$HOME/.cache/k8s-local}/run/kubeconfig"
export KUBECTL="$(ls -d "${K8S_LOCAL_HOME:-$HOME/.cache/k8s-local}"/bin/kubernetes-*/kubectl | tail -1)"
if [[ "$mode" == real ]]; then
  # No registry: the pinned images (scripts/images.sh put them in Docker)
  # go into the cluster's containerd under the same names.
  images="$(cd "$AGENTSTREAM_ROOT" && python3 -c 'from agentstream import versions as v; print(v.PROMETHEUS_IMAGE, v.THANOS_IMAGE, v.SEAWEEDFS_IMAGE, v.ALERTMANAGER_IMAGE)')"
  for image in $images; do
    log "loading $image into the cluster"
    bash "$k8s/load-image.sh" "$image" >&2
  done
fi
log "cluster up after $(($(date +%s) - start))s; running pytest -m k8s_$mode"
cd "$AGENTSTREAM_ROOT"
python3 -m pytest -v -s -m "k8s_$mode" tests/k8s
log "tier $mode passed in $(($(date +%s) - start))s"
