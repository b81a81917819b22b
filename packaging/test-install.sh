#!/usr/bin/env bash
# test-install.sh: runs packaging/install.sh into DESTDIR=$(mktemp -d) with a stand-in
# binary and checks that every file lands where the unit expects it, with the right
# mode and contents; that a second run (an upgrade) replaces the binary and the unit but
# keeps the settings; and, where systemd-analyze exists, that the unit verifies.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL test-install: $*" >&2; exit 1; }

dest="$tmp/root"
fake="$tmp/clickthebutton"
printf '#!/bin/sh\necho clickthebutton test-1\n' > "$fake"
chmod 0700 "$fake" # install.sh must set the modes itself

check_mode() { # FILE MODE
  [ -f "$1" ] || fail "$1 is missing"
  got="$(stat -c %a "$1")"
  [ "$got" = "$2" ] || fail "$1 has mode $got, want $2"
}

out="$(umask 0077 && DESTDIR="$dest" "$here/install.sh" "$fake")" || fail "install.sh failed: $out"
check_mode "$dest/usr/local/bin/clickthebutton" 755
check_mode "$dest/etc/systemd/system/clickthebutton.service" 644
check_mode "$dest/etc/clickthebutton.env" 600
[ "$(stat -c %a "$dest/usr/local/bin")" = 755 ] || fail "usr/local/bin is not 0755"
cmp -s "$fake" "$dest/usr/local/bin/clickthebutton" || fail "binary differs"
cmp -s "$here/clickthebutton.service" "$dest/etc/systemd/system/clickthebutton.service" || fail "unit differs"
cmp -s "$here/clickthebutton.env.example" "$dest/etc/clickthebutton.env" || fail "env file differs"
grep -q '^ExecStart=/usr/local/bin/clickthebutton ' "$dest/etc/systemd/system/clickthebutton.service" || fail "unit does not start /usr/local/bin/clickthebutton"
grep -q '^EnvironmentFile=-/etc/clickthebutton.env$' "$dest/etc/systemd/system/clickthebutton.service" || fail "unit does not read /etc/clickthebutton.env"
grep -q 'systemctl daemon-reload' <<< "$out" || fail "no daemon-reload hint in: $out"
grep -q 'systemctl enable --now clickthebutton' <<< "$out" || fail "no enable hint in: $out"
grep -q 'clickthebutton test-1' <<< "$out" || fail "version not reported in: $out"
[ -z "$(find "$dest" -name '.clickthebutton.new.*')" ] || fail "temporary file left behind"

# Upgrade: new binary, settings kept.
echo 'CTB_SECRET=mine-keep-me-please' >> "$dest/etc/clickthebutton.env"
printf '#!/bin/sh\necho clickthebutton test-2\n' > "$fake"
out="$(DESTDIR="$dest" "$here/install.sh" "$fake")" || fail "second install.sh failed: $out"
grep -q 'clickthebutton test-2' <<< "$out" || fail "upgrade did not install the new binary: $out"
grep -q '^CTB_SECRET=mine-keep-me-please$' "$dest/etc/clickthebutton.env" || fail "upgrade overwrote the settings"
check_mode "$dest/etc/clickthebutton.env" 600
check_mode "$dest/usr/local/bin/clickthebutton" 755
grep -q 'systemctl restart clickthebutton' <<< "$out" || fail "no restart hint on upgrade: $out"

# Bad use.
if DESTDIR="$dest" "$here/install.sh" "$tmp/nonexistent" > /dev/null 2>&1; then fail "accepted a missing binary"; fi

# The unit itself, pointed at the staged binary (verify checks that ExecStart exists).
if command -v systemd-analyze > /dev/null; then
  sed "s|/usr/local/bin/clickthebutton|$dest/usr/local/bin/clickthebutton|" \
    "$dest/etc/systemd/system/clickthebutton.service" > "$tmp/clickthebutton.service"
  systemd-analyze verify --man=no "$tmp/clickthebutton.service" || fail "systemd-analyze verify"
  echo "ok   systemd-analyze verify clickthebutton.service"
else
  echo "skip systemd-analyze verify (no systemd-analyze here)"
fi
echo "ok   install.sh: files, modes, upgrade keeps settings"
