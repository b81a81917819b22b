#!/usr/bin/env bash
# install.sh [BINARY]: installs Click the Button as a systemd service.
#   BINARY  -> $DESTDIR/usr/local/bin/clickthebutton       (0755, replaced atomically)
#   unit    -> $DESTDIR/etc/systemd/system/clickthebutton.service  (0644, always replaced)
#   env     -> $DESTDIR/etc/clickthebutton.env             (0600, only when absent)
# BINARY defaults to bin/clickthebutton (make build), else dist/clickthebutton_linux_<arch>
# (make dist). Running it again upgrades: the settings file is kept. It never starts or
# stops anything; it prints the systemctl commands to run. DESTDIR stages the files
# under another root (packaging, tests).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
dest="${DESTDIR:-}"
dest="${dest%/}"

if [ $# -gt 1 ]; then
  echo "usage: $0 [BINARY]" >&2
  exit 2
fi
bin="${1:-}"
if [ -z "$bin" ]; then
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="$(uname -m)" ;;
  esac
  for candidate in "$root/bin/clickthebutton" "$root/dist/clickthebutton_linux_$arch"; do
    if [ -f "$candidate" ]; then bin="$candidate"; break; fi
  done
  [ -n "$bin" ] || { echo "install.sh: no binary: run make build (or make dist), or name one: $0 BINARY" >&2; exit 1; }
fi
[ -f "$bin" ] || { echo "install.sh: $bin: no such file" >&2; exit 1; }

bindir="$dest/usr/local/bin"
unitdir="$dest/etc/systemd/system"
envfile="$dest/etc/clickthebutton.env"
upgrade=no
[ -e "$bindir/clickthebutton" ] && upgrade=yes

install -d -m 0755 "$bindir" "$unitdir"
# Copy next to the target, then rename over it: a running server keeps its old file
# until it restarts, and nobody ever sees half a binary.
tmp="$bindir/.clickthebutton.new.$$"
trap 'rm -f "$tmp"' EXIT
install -m 0755 "$bin" "$tmp"
mv -f "$tmp" "$bindir/clickthebutton"
echo "installed $bindir/clickthebutton ($("$bindir/clickthebutton" --version 2>/dev/null || echo "version unknown: not runnable here"))"

install -m 0644 "$here/clickthebutton.service" "$unitdir/clickthebutton.service"
echo "installed $unitdir/clickthebutton.service"

if [ -e "$envfile" ]; then
  echo "kept      $envfile (your settings; compare with $here/clickthebutton.env.example)"
else
  install -m 0600 "$here/clickthebutton.env.example" "$envfile"
  echo "installed $envfile (mode 0600: edit it, e.g. set CTB_SECRET)"
fi

echo
if [ -n "$dest" ]; then
  echo "Staged under $dest. On the target machine, run:"
else
  echo "Now run:"
fi
echo "  systemctl daemon-reload"
if [ "$upgrade" = yes ]; then
  echo "  systemctl restart clickthebutton"
else
  echo "  systemctl enable --now clickthebutton"
fi
echo "  systemctl status clickthebutton    # logs: journalctl -u clickthebutton -f"
