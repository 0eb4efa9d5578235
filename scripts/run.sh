#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs a local
# demo cluster until Ctrl-C.
#
#   scripts/run.sh [N] [cluster.sh start options...]
#
# N agents (default 12, 8-16 is a good range on a laptop) on 127.0.0.1,
# each emulating one host of the bundled 200-node PlanetLab RTT matrix
# (TEST FACILITY latency emulation: every agent delays what it sends by half
# the matrix RTT to the destination; see scripts/cluster.sh and
# loop/latency.h). Agents are tagged dc=<region> (regions found in
# the matrix) and row=<matrix row>. Prints the web map URL and keeps
# running; Ctrl-C stops every agent by PID (graceful leave, SIGKILL after
# 10 s). Options after N go to `scripts/cluster.sh start` (e.g. --no-latency,
# --matrix FILE, --profile local).
set -euo pipefail
cd "$(dirname "$0")/.."

N=12
if [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then N=$1; shift; fi

bash scripts/setup.sh
bash scripts/build.sh build

port_busy() { ss -Hltun 2>/dev/null | awk '{print $5}' | grep -Eq "[:.]$1\$"; }
range_free() {  # range_free BASE COUNT
	local i
	for i in $(seq 0 $(($2 - 1))); do port_busy $(($1 + i)) && return 1; done
	return 0
}
# serf's and netcoord's default ports if free (the CLI then needs no
# flags), else a free range.
GOSSIP=7946 HTTP=8555
if ! range_free $GOSSIP "$N" || ! range_free $HTTP "$N"; then
	for _ in $(seq 1 50); do
		# below the ephemeral range (usually 32768-60999)
		GOSSIP=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		HTTP=$((GOSSIP + 100))
		range_free $GOSSIP "$N" && range_free $HTTP "$N" && break
	done
fi

DIR=$(mktemp -d /tmp/netcoord-demo.XXXXXX)
STOPPED=0
stop_cluster() {
	[ "$STOPPED" = 1 ] && return 0
	STOPPED=1
	echo
	bash scripts/cluster.sh stop --dir "$DIR" || true
	echo "logs: $DIR"
}
trap stop_cluster EXIT
trap 'exit 0' INT TERM

bash scripts/cluster.sh start "$N" --dir "$DIR" --base-port "$GOSSIP" \
	--http-port "$HTTP" --netcoord build/cmd/netcoord "$@"

CLI="build/cmd/netcoord"
[ "$HTTP" = 8555 ] || CLI="NETCOORD_HTTP_ADDR=127.0.0.1:$HTTP build/cmd/netcoord"
cat <<EOF

  Web map:   http://127.0.0.1:$HTTP/ui/
             (every agent serves it: node01 on :$((HTTP + 1)), ...)
  Try:       $CLI members
             $CLI nearest -n 3
             $CLI rtt node00 node05
             $CLI failover -group dc
  Coordinates settle within a minute or two (one probe per second per agent).
  Logs in $DIR. Press Ctrl-C to stop all agents.
EOF

# Keep running; report an agent that exits on its own.
declare -A REPORTED=()
while :; do
	while read -r name pid rest; do
		if [ -z "${REPORTED[$name]:-}" ] && ! kill -0 "$pid" 2>/dev/null; then
			echo "run.sh: $name (pid $pid) exited; see $DIR/$name.log"
			REPORTED[$name]=1
		fi
	done <"$DIR/cluster.pids"
	sleep 2
done
