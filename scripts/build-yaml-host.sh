#!/usr/bin/env bash
# Builds the Pulumi YAML language host (`pulumi-language-yaml`) from its Go
# module, github.com/pulumi/pulumi-yaml, through the Go module proxy: the
# pulumi-offline CLI ships only the Python host, and the e2e test
# tests/e2e/test_yaml_program.py deploys the components from a Pulumi YAML
# program. Idempotent: the binary is cached under
# $AGENTSTREAM_CACHE/bin/pulumi-yaml-<version>/ and reused.
#
#   bash scripts/build-yaml-host.sh          # build if missing; progress on stdout
#   bash scripts/build-yaml-host.sh --path   # print where the binary is (or will be); builds nothing
#
# The engine finds it on PATH (`pulumi-language-yaml`) or as a plugin:
#   pulumi plugin install language yaml 1.25.0 --file "$(bash scripts/build-yaml-host.sh --path)"
# No third-party source is kept in the repo: a throwaway wrapper module under
# $AGENTSTREAM_CACHE/build/ requires upstream at the pinned version, so the
# dependency versions are exactly upstream's (its go.mod has no replace lines;
# any it gains are repeated: repeat_replaces in lib-go.sh).
set -euo pipefail

YAML_V="${PULUMI_YAML_VERSION:-v1.25.0}"
cache="${AGENTSTREAM_CACHE:-$HOME/.cache/agentstream}"
out="$cache/bin/pulumi-yaml-$YAML_V"
bin="$out/pulumi-language-yaml"
if [[ "${1:-}" == "--path" ]]; then echo "$bin"; exit 0; fi

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOPROXY="${GOPROXY:-https://proxy.golang.org}"
log() { echo "[build-yaml-host] $(date +%H:%M:%S) $*"; }
# shellcheck source=lib-go.sh
source "$(dirname "$0")/lib-go.sh"  # with_progress, repeat_replaces

if [[ -x "$bin" && -f "$out/BUILD_INFO" ]]; then
  log "pulumi-language-yaml $YAML_V cached at $out ($(cat "$out/BUILD_INFO"))"; exit 0
fi

start=$SECONDS
mod=github.com/pulumi/pulumi-yaml
work="$cache/build/pulumi-yaml-$YAML_V"
rm -rf "$work"; mkdir -p "$work"; cd "$work"
log "pulumi-yaml $YAML_V: downloading module $mod@$YAML_V"
go mod init agentstream.local/build-pulumi-yaml >/dev/null 2>&1
modfile="$( (go mod download -json "$mod@$YAML_V" || true) | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
# Upstream's `go` line; a newer local toolchain builds it as it is (the default
# GOTOOLCHAIN=auto fetches a newer one from the proxy only when needed).
go mod edit -go="$(awk '/^go /{print $2; exit}' "$modfile")"
repeat_replaces "$modfile"
# go get's download list goes to a log; its tail is shown if it fails.
with_progress "go get pulumi-yaml" go get "$mod/cmd/pulumi-language-yaml@$YAML_V" >"$work/go-get.log" 2>&1 \
  || { tail -n 30 "$work/go-get.log"; log "go get $mod@$YAML_V failed"; exit 1; }
log "pulumi-yaml $YAML_V: modules ready ($(grep -c '^go: downloading' "$work/go-get.log" || true) downloaded)"
# Flags as upstream's release build (.goreleaser.yml).
ld="-s -w -X $mod/pkg/version.Version=$YAML_V"
log "pulumi-yaml $YAML_V: go build ./cmd/pulumi-language-yaml (slow on 2 cores)"
mkdir -p "$out.tmp"
with_progress "go build pulumi-language-yaml" go build -trimpath -ldflags "$ld" -o "$out.tmp/pulumi-language-yaml" "$mod/cmd/pulumi-language-yaml"
echo "go=$(go env GOVERSION)" >"$out.tmp/BUILD_INFO"
rm -rf "$out"; mv "$out.tmp" "$out"
rm -rf "$work"
log "pulumi-yaml $YAML_V: built $bin in $(( SECONDS - start )) s"
