#!/usr/bin/env bash
# test-check-embedded.sh: proves the page check can fail. Builds the server, with the
# release recipe, from a temporary copy of the sources whose frontend/dist holds only
# .gitkeep (a fresh clone's state), and expects packaging/check-embedded.sh to refuse it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/frontend/dist"
tar -C "$root" --exclude=./.git --exclude=./node_modules --exclude=./frontend \
  --exclude=./bin --exclude=./dist --exclude=./data -cf - . | tar -C "$tmp/src" -xf -
: > "$tmp/src/frontend/dist/.gitkeep"
(cd "$tmp/src" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "-s -w" -o "$tmp/nopage" .)
if "$root/packaging/check-embedded.sh" "$tmp/nopage" 2> "$tmp/err"; then
  echo "FAIL: check-embedded.sh accepted a binary built without the page" >&2
  exit 1
fi
grep -q "missing the contents of index.html" "$tmp/err" || { echo "FAIL: unexpected checker output:" >&2; cat "$tmp/err" >&2; exit 1; }
echo "ok   check-embedded.sh refuses a binary built without the page"
