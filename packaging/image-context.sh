#!/usr/bin/env bash
# image-context.sh BINARY DIR: stages the build context of the Containerfile in DIR:
# the static binary, an empty data folder, a passwd and group entry for the
# unprivileged user (uid and gid 65532) and the host's CA certificates.
set -euo pipefail
bin=${1:?usage: image-context.sh BINARY DIR}
dir=${2:?usage: image-context.sh BINARY DIR}
ca=${CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}

# A dynamically linked binary would not start on scratch.
if command -v file >/dev/null && ! file -L "$bin" | grep -q 'statically linked'; then
	echo "image-context: $bin is not statically linked" >&2
	exit 1
fi
if [ ! -s "$ca" ]; then
	echo "image-context: no CA certificates at $ca (apt-get install ca-certificates, or set CA_CERTS)" >&2
	exit 1
fi
rm -rf "$dir"
mkdir -p "$dir/etc/ssl/certs" "$dir/data"
cp "$bin" "$dir/clickthebutton"
chmod 0755 "$dir/clickthebutton"
cp "$ca" "$dir/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nclickthebutton:x:65532:65532:Click the Button:/data:/sbin/nologin\n' >"$dir/etc/passwd"
printf 'root:x:0:\nclickthebutton:x:65532:\n' >"$dir/etc/group"
