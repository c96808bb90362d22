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
# The shared install.sh ends with `kubectl version --client | head -1` under
# pipefail: when head exits before kubectl's second line is written, kubectl
# dies of SIGPIPE and install.sh exits 141 after every binary is built (a CI
# run failed this way; on a busy machine it happens nearly every time). So 141
# counts as success only when that final line was reached (its "Client
# Version:" output is in the log) and kubectl then runs; any other failure is
# real and stops here.
# Its Debian packages first, under our apt lock (install.sh's own apt-get
# would race e2e-setup's, which runs beside this); then it finds them there.
need=()
for p in containerd runc containernetworking-plugins iptables openssl busybox-static python3 iproute2; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then log "installing the Debian packages install.sh needs: ${need[*]}"; apt_install --no-install-recommends "${need[@]}"; fi
out="$(mktemp)"
rc=0
bash "$tools/k8s-local/install.sh" 2>&1 | grep --line-buffered -v '^go: downloading' | tee "$out" >&2 || rc=$?
if ((rc == 141)) && grep -q 'Client Version:' "$out"; then
  kubectl="$(ls -d "${K8S_LOCAL_HOME:-$HOME/.cache/k8s-local}"/bin/kubernetes-v*/kubectl | tail -1)"
  "$kubectl" version --client >/dev/null \
    && { log "install.sh exited 141 from SIGPIPE in its last line ('kubectl version | head -1'); binaries are built, carrying on"; rc=0; }
fi
rm -f "$out"
((rc == 0)) || { log "k8s-local install failed (exit $rc)"; exit "$rc"; }
# up.sh --mode real needs these commands, but the shared install.sh does not
# install nftables (a CI run on a fresh machine failed with "nft not found"):
# install whichever Debian package is missing.
missing=()
for pair in nft:nftables iptables:iptables ip:iproute2 sysctl:procps curl:curl openssl:openssl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if ((${#missing[@]})); then
  log "installing Debian packages the real-pods cluster needs: ${missing[*]}"
  apt_install "${missing[@]}"
fi
log "k8s-local ready after $(($(date +%s) - start))s"
