#!/usr/bin/env bash
# build-dist.sh OUTDIR OS/ARCH...
# The release recipe, shared by `make dist` and `make test-dist`: for each OS/ARCH a
# static binary OUTDIR/clickthebutton_<os>_<arch> (.exe on Windows) with the page in
# frontend/dist embedded and VERSION and COMMIT (environment) stamped; then the page
# check on every binary, a --version check on the one this machine can run, and
# OUTDIR/SHA256SUMS. Run from anywhere; builds the repository this script is in.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUTDIR OS/ARCH..." >&2; exit 2; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
shift
: "${VERSION:=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)}"
: "${COMMIT:=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)}"
cd "$root"
test -f frontend/dist/index.html || { echo "frontend/dist/index.html is missing: build the page first (make web)" >&2; exit 1; }

rm -f "$out"/clickthebutton_* "$out/SHA256SUMS"
names=()
for target in "$@"; do
  os="${target%/*}" arch="${target#*/}"
  name="clickthebutton_${os}_${arch}"
  [ "$os" = windows ] && name="$name.exe"
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath \
    -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" -o "$out/$name" .
  echo "built $name"
  names+=("$name")
done

# Every binary must carry this very page (nothing is run, so this works for every platform).
packaging/check-embedded.sh -expect "$VERSION" "${names[@]/#/$out/}"

# The one binary this machine runs must say its version and commit.
native="clickthebutton_$(go env GOHOSTOS)_$(go env GOHOSTARCH)"
for name in "${names[@]}"; do
  [ "${name%.exe}" = "$native" ] || continue
  said="$("$out/$name" --version)"
  case "$said" in
    *"$VERSION"*"$COMMIT"* | *"$COMMIT"*"$VERSION"*) echo "ok   $name --version: $said" ;;
    *) echo "FAIL $name --version printed \"$said\", want version $VERSION and commit $COMMIT" >&2; exit 1 ;;
  esac
done

(cd "$out" && sha256sum "${names[@]}" > SHA256SUMS)
echo "wrote $out/SHA256SUMS"
