#!/usr/bin/env bash
# test-image.sh BINARY: builds the Containerfile with podman into a throwaway storage
# (vfs driver, nothing shared with the host's images), then checks what can be checked
# without running a container: the image's configuration (user, volume, entrypoint,
# health check, port, environment, labels), the owner of /data, and the binary taken
# back out of the image, which must be BINARY byte for byte and print VERSION and COMMIT.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: test-image.sh BINARY}
: "${VERSION:?}" "${COMMIT:?}"
command -v podman >/dev/null || { echo "test-image: podman is missing (apt-get install podman)" >&2; exit 1; }

tmp=$(mktemp -d)
pm() { podman --root "$tmp/storage" --runroot "$tmp/run" --storage-driver vfs "$@"; }
cleanup() {
	pm rm -af >/dev/null 2>&1 || true
	pm rmi -af >/dev/null 2>&1 || true
	# Rootless podman leaves files owned by other ids of its user namespace.
	rm -rf "$tmp" 2>/dev/null || podman unshare rm -rf "$tmp" 2>/dev/null || true
}
trap cleanup EXIT

fail=0
check() { # what got want
	if [ "$2" = "$3" ]; then
		echo "ok    $1: $2"
	else
		echo "FAIL  $1: got $2, want $3" >&2
		fail=1
	fi
}

packaging/image-context.sh "$bin" "$tmp/ctx"
tag=localhost/clickthebutton-test:$VERSION
pm build -q --format docker -f Containerfile -t "$tag" \
	--build-arg VERSION="$VERSION" --build-arg COMMIT="$COMMIT" --build-arg SOURCE=https://example.com/src \
	"$tmp/ctx" >/dev/null

get() { pm image inspect "$tag" --format "$1"; }
check user "$(get '{{.Config.User}}')" "65532:65532"
check volumes "$(get '{{json .Config.Volumes}}')" '{"/data":{}}'
check entrypoint "$(get '{{json .Config.Entrypoint}}')" '["/clickthebutton"]'
check cmd "$(get '{{json .Config.Cmd}}')" 'null'
check healthcheck "$(get '{{json .HealthCheck.Test}}')" '["CMD","/clickthebutton","--healthcheck"]'
check "exposed ports" "$(get '{{json .Config.ExposedPorts}}')" '{"8080/tcp":{}}'
env=$(get '{{json .Config.Env}}')
check "env CTB_DATA" "$(grep -o '"CTB_DATA=/data"' <<<"$env" || true)" '"CTB_DATA=/data"'
check "env CTB_ADDR" "$(grep -o '"CTB_ADDR=:8080"' <<<"$env" || true)" '"CTB_ADDR=:8080"'
check "label version" "$(get '{{index .Labels "org.opencontainers.image.version"}}')" "$VERSION"
check "label revision" "$(get '{{index .Labels "org.opencontainers.image.revision"}}')" "$COMMIT"
check "label source" "$(get '{{index .Labels "org.opencontainers.image.source"}}')" "https://example.com/src"

# The files, from a container that is created but never started.
ctr=$(pm create --no-healthcheck "$tag")
pm export "$ctr" >"$tmp/rootfs.tar"
listing=$(tar -tvf "$tmp/rootfs.tar" --numeric-owner)
check "/data owner" "$(awk '$6 == "data/" {print $1, $2}' <<<"$listing")" "drwxr-xr-x 65532/65532"
check "files" "$(awk '{print $6}' <<<"$listing" | sort | tr '\n' ' ')" \
	"clickthebutton data/ etc/ etc/group etc/passwd etc/ssl/ etc/ssl/certs/ etc/ssl/certs/ca-certificates.crt "
mkdir "$tmp/rootfs"
tar -xf "$tmp/rootfs.tar" -C "$tmp/rootfs" clickthebutton etc/passwd
if cmp -s "$bin" "$tmp/rootfs/clickthebutton"; then echo "ok    binary: the image carries $bin byte for byte"; else
	echo "FAIL  binary: the image's /clickthebutton differs from $bin" >&2
	fail=1
fi
check "user entry" "$(grep '^clickthebutton:' "$tmp/rootfs/etc/passwd" | cut -d: -f3,4)" "65532:65532"
version=$("$tmp/rootfs/clickthebutton" --version)
check "--version of the image's binary" "$(grep -c -e "$VERSION" <<<"$version")/$(grep -c -e "$COMMIT" <<<"$version")" "1/1"

if [ "$fail" -ne 0 ]; then
	echo "test-image: the image is not as it should be" >&2
	exit 1
fi
echo "test-image: image $tag checked"
