#!/usr/bin/env bash
# scripts/screenshot.sh - reproduces docs/map.png, the README's picture of the
# web map: a real local cluster (scripts/cluster.sh: 12 agents on 127.0.0.1,
# LAN profile, wide-area latency emulated from tests/data/planetlab200_ms.txt,
# tagged dc=<region>), left to converge, then the page from node00's own
# /ui/ in headless Chromium at 1280x800, coloured by dc, with one node
# selected (lines to its nearest members from /v1/nearest).
#
#   scripts/screenshot.sh [--out docs/map.png] [--n 12] [--settle 100]
#                         [--node node00] [--netcoord BIN]
#
# --settle: seconds of probing before the shot (coordinates settle after
# ~60-90 probes; one probe per second per agent). Needs what
# scripts/setup-browser.sh installs. ~2 min. Every agent is stopped by PID
# on exit; nothing listens outside 127.0.0.1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/docs/map.png
N=12
SETTLE=100
NODE=node00
NETCOORD=""
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=$2; shift 2 ;;
	--n) N=$2; shift 2 ;;
	--settle) SETTLE=$2; shift 2 ;;
	--node) NODE=$2; shift 2 ;;
	--netcoord) NETCOORD=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "screenshot.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -z "$NETCOORD" ]; then
	for b in "$ROOT/build/cmd/netcoord" "$ROOT"/build*/cmd/netcoord; do
		[ -x "$b" ] && { NETCOORD=$b; break; }
	done
fi
if [ -z "$NETCOORD" ] || [ ! -x "$NETCOORD" ]; then
	echo "screenshot.sh: no netcoord binary (scripts/build.sh first, or --netcoord)" >&2
	exit 1
fi
. "$ROOT/tests/browser/tooling.sh"
NC_REQUIRE_BROWSER=1 nc_browser_tooling "$ROOT/tests/browser"
. "$ROOT/tests/integration/lib.sh"   # nc_ports, wait_for, log, die

DIR=$(mktemp -d /tmp/netcoord-shot.XXXXXX)
stop_agents() {
	local name pid rest
	if [ -f "$DIR/cluster.pids" ]; then
		while read -r name pid rest; do
			if [ -r "/proc/$pid/cmdline" ] &&
				tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "agent -node $name "; then
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done <"$DIR/cluster.pids"
	fi
	rm -rf "$DIR"
}
trap stop_agents EXIT
trap 'exit 130' INT TERM

GP=$(nc_ports $((2 * N)) | head -1)
HP=$((GP + N))
bash "$ROOT/scripts/cluster.sh" start "$N" --dir "$DIR" --base-port "$GP" \
	--http-port "$HP" --netcoord "$NETCOORD"
all_alive() {
	local name pid hp rest
	while read -r name pid _ hp rest; do
		[ "$(curl -sf --max-time 2 "http://127.0.0.1:$hp/v1/members" |
			grep -o '"Status":"alive"' | wc -l)" = "$N" ] || return 1
	done <"$DIR/cluster.pids"
}
wait_for 30 "every agent sees $N alive" all_alive
log "probing for ${SETTLE}s while the coordinates settle"
sleep "$SETTLE"
mkdir -p "$(dirname "$OUT")"
node "$ROOT/tests/browser/screenshot.js" "http://127.0.0.1:$HP" "$OUT" --node "$NODE" \
	--width 1280 --height 800 --color-by dc
log "wrote $OUT ($(stat -c %s "$OUT") bytes)"
