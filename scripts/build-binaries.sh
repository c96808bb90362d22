#!/usr/bin/env bash
# Builds the real Prometheus and Thanos binaries that the e2e tests run, from
# their Go modules through the Go module proxy (no container registry is
# reachable here). Idempotent: results are cached under
# $AGENTSTREAM_CACHE/bin/<name>-<version>/ and reused.
#
# Versions come from components/agentstream/versions.py, so the binaries the
# e2e runs are exactly the versions the package pins.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${AGENTSTREAM_CACHE:-$HOME/.cache/agentstream}"
mkdir -p "$cache/bin" "$cache/build"

read -r PROM_V THANOS_V < <(python3 - "$here" <<'PY'
import runpy, sys
v = runpy.run_path(f"{sys.argv[1]}/components/agentstream/versions.py")
print(v["PROMETHEUS_VERSION"], v["THANOS_VERSION"])
PY
)

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOPROXY="${GOPROXY:-https://proxy.golang.org}"
log() { echo "[build-binaries] $(date +%H:%M:%S) $*"; }

# Prometheus v3.X.Y is published as Go module version v0.3XX.Y.
prom_module_version() {
  local v="${1#v}" major minor patch
  IFS=. read -r major minor patch <<<"$v"
  printf 'v0.%d%02d.%d' "$major" "$minor" "$patch"
}

# The Go version a module asks for (the upstream go.mod `go` line). When the
# local toolchain is older, GOTOOLCHAIN fetches the newer one from the proxy.
wanted_go() { awk '/^go /{print "go"$2; exit}' "$1"; }

build_prometheus() (
  local out="$cache/bin/prometheus-$PROM_V"
  if [[ -x "$out/prometheus" && -x "$out/promtool" ]]; then
    log "prometheus $PROM_V cached at $out"; return 0
  fi
  local mv; mv="$(prom_module_version "$PROM_V")"
  local work="$cache/build/prometheus-$PROM_V"
  rm -rf "$work"; mkdir -p "$work"; cd "$work"
  log "prometheus $PROM_V: downloading module github.com/prometheus/prometheus@$mv"
  go mod init agentstream.local/build-prometheus >/dev/null 2>&1
  local modfile; modfile="$( (go mod download -json "github.com/prometheus/prometheus@$mv" || true) | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  export GOTOOLCHAIN; GOTOOLCHAIN="$(wanted_go "$modfile")"
  go mod edit -go="${GOTOOLCHAIN#go}"
  go get "github.com/prometheus/prometheus/cmd/prometheus@$mv" "github.com/prometheus/prometheus/cmd/promtool@$mv" >/dev/null
  local ld="-s -w -X github.com/prometheus/common/version.Version=${PROM_V#v} -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.BuildUser=agentstream"
  mkdir -p "$out.tmp"
  for cmd in prometheus promtool; do
    log "prometheus $PROM_V: go build ./cmd/$cmd (slow on 2 cores)"
    go build -tags netgo -trimpath -ldflags "$ld" -o "$out.tmp/$cmd" "github.com/prometheus/prometheus/cmd/$cmd"
  done
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "prometheus $PROM_V: built $("$out/prometheus" --version | head -1)"
)

build_thanos() (
  local out="$cache/bin/thanos-$THANOS_V"
  if [[ -x "$out/thanos" ]]; then log "thanos $THANOS_V cached at $out"; return 0; fi
  local work="$cache/build/thanos-$THANOS_V"
  rm -rf "$work"; mkdir -p "$work"; cd "$work"
  log "thanos $THANOS_V: downloading module"
  go mod init agentstream.local/build-thanos >/dev/null 2>&1
  local modfile; modfile="$( (go mod download -json "github.com/thanos-io/thanos@$THANOS_V" || true) | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
  export GOTOOLCHAIN; GOTOOLCHAIN="$(wanted_go "$modfile")"
  go mod edit -go="${GOTOOLCHAIN#go}"
  # Replace directives only apply in the main module, so the wrapper repeats
  # upstream's verbatim (copied from the downloaded go.mod, not from this repo).
  awk '/^replace \(/{f=1;next} f&&/^\)/{f=0} f&&NF&&$1!~/^\/\//{print}' "$modfile" | while read -r line; do
    old="${line%% =>*}"; new="${line##*=> }"
    go mod edit -replace="$(echo "$old" | tr -s ' ' '@' | sed 's/@$//')=$(echo "$new" | tr -s ' ' '@')"
  done
  go get "github.com/thanos-io/thanos/cmd/thanos@$THANOS_V" >/dev/null
  local ld="-s -w -X github.com/prometheus/common/version.Version=${THANOS_V#v} -X github.com/prometheus/common/version.Branch=HEAD -X github.com/prometheus/common/version.BuildUser=agentstream"
  log "thanos $THANOS_V: go build ./cmd/thanos (slow on 2 cores)"
  mkdir -p "$out.tmp"
  go build -tags netgo -trimpath -ldflags "$ld" -o "$out.tmp/thanos" github.com/thanos-io/thanos/cmd/thanos
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "thanos $THANOS_V: built $("$out/thanos" --version 2>&1 | head -1)"
)

case "${1:-all}" in
  prometheus) build_prometheus ;;
  thanos) build_thanos ;;
  all) build_prometheus; build_thanos ;;
  *) echo "usage: $0 [prometheus|thanos|all]" >&2; exit 2 ;;
esac
