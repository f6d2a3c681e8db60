#!/usr/bin/env bash
# make package: the three Debian packages CPack builds hold what they should. ferryd: the
# program, the systemd unit (checked by `systemd-analyze verify` where systemd is there), the
# configuration as a conffile (and ferryd accepts it: ferryd -t), the postinst that creates the
# `ferry` user; ferry: the CLI; libferry-dev: headers, libraries, CMake package, pkg-config files.
# The packages are unpacked (dpkg-deb -x) and their programs run.
#
#   tests/install/package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/ferry-package.XXXXXX")
trap 'rm -rf "$out"' EXIT
(cd "$out" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$out/work" -D CPACK_OUTPUT_FILE_PREFIX="$out" \
  >"$out/cpack.log") ||
  { cat "$out/cpack.log"; exit 1; }
fail() { echo "FAILED: $*"; exit 1; }
deb() { find "$out" -maxdepth 1 -name "$1_*.deb" | head -n 1; }
server=$(deb ferryd) cli=$(deb ferry) dev=$(deb libferry-dev)
[ -n "$server" ] && [ -n "$cli" ] && [ -n "$dev" ] || fail "packages: $(ls "$out")"
echo "== built: $(basename "$server") $(basename "$cli") $(basename "$dev")"
for d in "$server" "$cli" "$dev"; do dpkg-deb -c "$d" | awk '{print $6}' >"$d.list"; done
has() {  # has DEB PATH: the package holds PATH
  grep -qx "./$2" "$1.list" || fail "$(basename "$1") lacks /$2"
}
has "$server" usr/bin/ferryd
has "$server" lib/systemd/system/ferryd.service
has "$server" etc/ferry/ferryd.conf
has "$cli" usr/bin/ferry
has "$dev" usr/include/ferry/router.h
has "$dev" usr/include/ferry/broker.h
grep -q 'libferry_sdk\.a$' "$dev.list" || fail "libferry-dev lacks libferry_sdk.a"
grep -q 'cmake/ferry/ferryConfig\.cmake$' "$dev.list" || fail "libferry-dev lacks ferryConfig.cmake"
grep -q 'pkgconfig/ferry\.pc$' "$dev.list" || fail "libferry-dev lacks ferry.pc"
if grep -q 'include/' "$server.list"; then fail "ferryd carries headers"; fi
dpkg-deb -f "$server" Package Depends | sed 's/^/   /'
mkdir -p "$out/control"
dpkg-deb -e "$server" "$out/control"
grep -qx '/etc/ferry/ferryd.conf' "$out/control/conffiles" || fail "/etc/ferry/ferryd.conf is not a conffile"
grep -q 'adduser --system' "$out/control/postinst" || fail "postinst creates no user"
[ -x "$out/control/postinst" ] || fail "postinst is not executable"
grep -q "stop ferryd" "$out/control/prerm" || fail "prerm does not stop the service"
[ -x "$out/control/postrm" ] || fail "no postrm"

mkdir -p "$out/root"
for d in "$server" "$cli" "$dev"; do dpkg-deb -x "$d" "$out/root"; done
"$out/root/usr/bin/ferryd" --version
"$out/root/usr/bin/ferry" --version
# The shipped configuration, with its store in the test's directory, is one ferryd accepts.
sed "s|/var/lib/ferry|$out/var|" "$out/root/etc/ferry/ferryd.conf" >"$out/ferryd.conf"
"$out/root/usr/bin/ferryd" -t -c "$out/ferryd.conf"
# systemd-analyze verify works without a running systemd (offline, on the file).
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/ferryd|$out/root/usr/bin/ferryd|" "$out/root/lib/systemd/system/ferryd.service" >"$out/ferryd.service"
  systemd-analyze verify "$out/ferryd.service"
  echo "systemd-analyze verify: the unit is valid"
else
  echo "systemd-analyze is not installed (package systemd): the unit was not verified"
fi
echo "packages: contents, conffile, postinst, programs and configuration checked"
