#!/usr/bin/env bash
# check-embedded.sh [-expect STRING]... BINARY...
# Fails unless every BINARY carries the page in frontend/dist byte for byte (every file,
# plus every asset index.html references). Works on cross-compiled binaries: nothing is
# run. -expect adds a string every binary must contain. CTB_PAGE checks against another
# built page folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
abs() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -expect | -page) args+=("$1" "$2"); shift 2 ;;
    -*) args+=("$1"); shift ;;
    *) args+=("$(abs "$1")"); shift ;; # go run runs in $root
  esac
done
page="$(abs "${CTB_PAGE:-$root/frontend/dist}")"
cd "$root"
exec go run packaging/checkembedded.go -page "$page" "${args[@]}"
