#!/usr/bin/env bash
# package.sh BUILD_DIR SOURCE_DIR - the Debian package (packaging/): built
# with cpack from BUILD_DIR, then checked as an operator would receive it.
#
#   - contents: exactly the binary, the unit, the conffile and the README,
#     with their modes; nothing from the build tree;
#   - metadata: name, version (the project's), architecture, the
#     dependencies dpkg-shlibdeps computed (MHD, cJSON, OpenSSL, libcurl,
#     libc) plus adduser; the conffile declared; the maintainer scripts are
#     valid sh;
#   - the unit: hardening directives present, and `systemd-analyze verify`
#     clean (on a copy whose ExecStart points at the extracted binary: verify
#     checks that the binary exists, and the package is not installed here);
#   - the packaged binary from an extracted copy, started with the packaged
#     config (ports and state paths overridden by flags, as flags win over
#     the file): it answers /v1/health and leaves gracefully on SIGTERM.
set -euo pipefail
BUILD=${1:?usage: package.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: package.sh BUILD_DIR SOURCE_DIR}
. "$SRC/tests/integration/lib.sh"
nc_setup

for t in cpack dpkg-deb systemd-analyze; do
	command -v "$t" >/dev/null || die "$t not installed (scripts/setup.sh installs it)"
done

log "building the package"
(cd "$BUILD" && cpack -G DEB -B "$NC_TMP/out" >"$NC_TMP/cpack.log" 2>&1) ||
	{ cat "$NC_TMP/cpack.log"; die "cpack failed"; }
shopt -s nullglob
debs=("$NC_TMP"/out/netcoord_*.deb)
[ ${#debs[@]} -eq 1 ] || die "expected one netcoord_*.deb, got: ${debs[*]:-none}"
DEB=${debs[0]}
log "package: $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"

# Contents: path and mode of every regular file.
files=$(dpkg-deb -c "$DEB" | awk '$1 ~ /^-/ {print $1, $6}' | sort)
want=$(sort <<'LIST'
-rw-r--r-- ./etc/netcoord/netcoord.json
-rw-r--r-- ./lib/systemd/system/netcoord.service
-rw-r--r-- ./usr/share/doc/netcoord/README.md
-rwxr-xr-x ./usr/bin/netcoord
LIST
)
[ "$files" = "$want" ] || die "package contents differ:
$(diff <(echo "$want") <(echo "$files") || true)"

# Metadata.
field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = netcoord ] || die "Package: $(field Package)"
version=$(sed -n 's/^project(netcoord VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ "$(field Version)" = "$version" ] || die "Version: $(field Version), CMakeLists.txt says $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || die "Architecture: $(field Architecture)"
deps=$(field Depends)
for lib in adduser libc6 libmicrohttpd12 libcjson1 libssl3 libcurl4; do
	grep -Eq "(^|, )$lib( |,|$)" <<<"$deps" || die "Depends lacks $lib: $deps"
done
log "Depends: $deps"
mkdir "$NC_TMP/control"
dpkg-deb -e "$DEB" "$NC_TMP/control"
[ "$(cat "$NC_TMP/control/conffiles")" = /etc/netcoord/netcoord.json ] ||
	die "conffiles: $(cat "$NC_TMP/control/conffiles")"
for s in postinst prerm postrm; do
	[ -x "$NC_TMP/control/$s" ] || die "$s missing or not executable"
	sh -n "$NC_TMP/control/$s" || die "$s is not valid sh"
done

# The unit.
R="$NC_TMP/root"
dpkg-deb -x "$DEB" "$R"
UNIT="$R/lib/systemd/system/netcoord.service"
for d in User=netcoord StateDirectory=netcoord ConfigurationDirectory=netcoord \
	NoNewPrivileges=yes ProtectSystem=strict Restart=on-failure KillSignal=SIGTERM \
	'ExecStart=/usr/bin/netcoord agent -config-file /etc/netcoord/netcoord.json'; do
	grep -qxF "$d" "$UNIT" || die "unit lacks $d"
done
mkdir "$NC_TMP/unit"
sed "s#^ExecStart=/usr/bin/netcoord #ExecStart=$R/usr/bin/netcoord #" "$UNIT" \
	>"$NC_TMP/unit/netcoord.service"
if ! out=$(systemd-analyze verify "$NC_TMP/unit/netcoord.service" 2>&1) || [ -n "$out" ]; then
	die "systemd-analyze verify: $out"
fi
log "systemd-analyze verify: clean"

# The packaged config names the state files in the StateDirectory.
python3 - "$R/etc/netcoord/netcoord.json" <<'PY' || die "packaged config"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["snapshot_path"].startswith("/var/lib/netcoord/"), c
assert c["keyring_file"].startswith("/var/lib/netcoord/"), c
PY

# The packaged binary, with the packaged config.
got=$("$R/usr/bin/netcoord" version) || die "packaged binary does not run"
[ "$got" = "netcoord v$version" ] || die "netcoord version: $got, package $version"
mapfile -t P < <(nc_ports 2)
NETCOORD="$R/usr/bin/netcoord"
nc_start pkg -config-file "$R/etc/netcoord/netcoord.json" -node pkg \
	-bind "127.0.0.1:${P[0]}" -http-addr "127.0.0.1:${P[1]}" \
	-snapshot "$NC_TMP/snapshot" -keyring-file "$NC_TMP/keyring.json"
wait_for 10 "packaged agent answers /v1/health" \
	curl -sf --max-time 2 "http://127.0.0.1:${P[1]}/v1/health"
pid=$(pid_of pkg)
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && die "packaged agent still running 10 s after SIGTERM"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || die "packaged agent exited $rc on SIGTERM"
[ -s "$NC_TMP/snapshot" ] || die "no snapshot written at exit"
log "PASS"
