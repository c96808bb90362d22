#!/usr/bin/env bash
# Builds the local Kubernetes cluster's binaries (../shared/tools/k8s-local:
# Kubernetes v1.35.4, etcd, kwok, CoreDNS from the Go module proxy; containerd
# and runc from Debian), cached under ~/.cache/k8s-local. Idempotent: with
# everything built it takes seconds; cold about 11-16 minutes on 2 cores.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
LOG_TAG=k8s-setup
tools="$(shared_tools)" || { log "no ../shared/tools/k8s-local beside the checkout"; exit 1; }
start=$(date +%s)
log "building/finding the k8s-local binaries (progress lines below)"
# Go's module download chatter stays out of the log; the tool's own
# timestamped progress lines (one per binary) are kept.
bash "$tools/k8s-local/install.sh" 2>&1 | grep --line-buffered -v '^go: downloading' >&2
log "k8s-local ready after $(($(date +%s) - start))s"
