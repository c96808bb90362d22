# Shared by the scripts that build Go programs from the module proxy
# (build-binaries.sh, build-yaml-host.sh); sourced, not run. Each caller
# defines its own `log`.
# shellcheck shell=bash

# Runs a long command with a progress line every minute (CI logs stay alive).
with_progress() {  # what cmd...
  local what="$1"; shift
  local start=$SECONDS
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if kill -0 "$pid" 2>/dev/null && (( (SECONDS - start) % 60 < 5 && SECONDS - start >= 60 )); then
      log "  ... $what: still running ($(( (SECONDS - start) / 60 )) min)"
    fi
  done
  wait "$pid"
}

# Replace directives only apply in the main module, so the wrapper module in
# the current directory repeats upstream's verbatim (read from the downloaded
# go.mod, not kept in this repo): `replace ( ... )` blocks and single lines.
repeat_replaces() {  # upstream's go.mod
  local line old new
  awk '/^replace \(/{f=1;next} f&&/^\)/{f=0} f&&NF&&$1!~/^\/\//{print} /^replace [^(]/{sub(/^replace /,""); print}' "$1" \
    | while read -r line; do
        old="${line%% =>*}"; new="${line##*=> }"
        go mod edit -replace="$(echo "$old" | tr -s ' ' '@' | sed 's/@$//')=$(echo "$new" | tr -s ' ' '@')"
      done
}
