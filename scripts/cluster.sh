#!/usr/bin/env bash
# scripts/cluster.sh - a local demo cluster of `netcoord agent`s on 127.0.0.1,
# with wide-area latency emulated from an RTT matrix (TEST FACILITY: every
# agent delays what it sends by half the matrix RTT to the destination, see
# loop/latency.h).
#
#   scripts/cluster.sh start N [--matrix FILE] [--base-port P] [--http-port H]
#                              [--dir D] [--profile lan|wan|local]
#                              [--no-latency] [--netcoord BIN] [-- AGENT ARGS]
#   scripts/cluster.sh stop   [--dir D]
#   scripts/cluster.sh status [--dir D]
#
# start: N agents (1..64; keep it <= 16 on a small machine) named node00..,
#   gossip on 127.0.0.1:P+i (default P = 7946), HTTP on 127.0.0.1:H+i
#   (default H = 8555, so `netcoord members` etc. talk to node00 without
#   flags), each joined to node00 and node01. Rows of the matrix (default
#   tests/data/planetlab200_ms.txt, 200 PlanetLab hosts) are chosen by
#   scripts/cluster_pick.py: spread over 3-4 regions found by k-medoids on
#   the matrix, no pair above 400 ms; each agent is tagged dc=<region> and
#   row=<matrix row>. --no-latency runs the same cluster without emulation.
#   Returns once every agent answers /v1/health (bounded: 15 s).
# stop: SIGTERM to every recorded PID (a graceful leave), SIGKILL after
#   10 s (a leave takes up to 6 s: 5 s for its broadcast when no peer is
#   left to take it, then 1 s to spread).
# status: one line per agent (alive or not, members seen as alive).
#
# Files in D (default /tmp/netcoord-cluster):
#   cluster.pids    "name pid gossip_port http_port row dc", one per agent
#   latency_map.txt the agents' -latency-map ("127.0.0.1:PORT ROW NAME")
#   sub_ms.txt      the N x N sub-matrix in agent order (for `netcoord sim`)
#   cluster.env     MATRIX, N, BASE_PORT, HTTP_PORT, LATENCY (sourceable)
#   <name>.log      each agent's log
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${NC_CLUSTER_DIR:-/tmp/netcoord-cluster}
MATRIX=$ROOT/tests/data/planetlab200_ms.txt
BASE_PORT=7946
HTTP_PORT=8555
PROFILE=lan
LATENCY=1
NETCOORD=""
AGENT_ARGS=()

die() { echo "cluster.sh: $*" >&2; exit 1; }

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

find_netcoord() {
	local b
	for b in "$ROOT/build/cmd/netcoord" "$ROOT"/build*/cmd/netcoord; do
		if [ -x "$b" ]; then echo "$b"; return 0; fi
	done
	return 1
}

port_busy() {
	ss -Hltun 2>/dev/null | awk '{print $5}' | grep -Eq "[:.]$1\$"
}

# Is PID $1 still our agent named $2? (PIDs are reused.)
is_our_agent() {
	[ -r "/proc/$1/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "agent -node $2 "
}

cmd_start() {
	local n=$1
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 64 ] ||
		die "N must be 1..64"
	[ -n "$NETCOORD" ] || NETCOORD=$(find_netcoord) ||
		die "no netcoord binary (build first: scripts/build.sh)"
	[ -r "$MATRIX" ] || die "cannot read matrix $MATRIX"
	command -v python3 >/dev/null || die "python3 is needed to pick rows"
	command -v curl >/dev/null || die "curl is needed"
	if [ -f "$DIR/cluster.pids" ]; then
		local name pid rest
		while read -r name pid rest; do
			is_our_agent "$pid" "$name" &&
				die "a cluster is already running in $DIR (stop it first)"
		done <"$DIR/cluster.pids"
	fi
	local i
	for i in $(seq 0 $((n - 1))); do
		port_busy $((BASE_PORT + i)) && die "port $((BASE_PORT + i)) is in use"
		port_busy $((HTTP_PORT + i)) && die "port $((HTTP_PORT + i)) is in use"
	done
	mkdir -p "$DIR"
	rm -f "$DIR"/*.log "$DIR/cluster.pids"

	# Rows and regions, then the map and the sub-matrix in agent order.
	local picks
	picks=$(python3 "$ROOT/scripts/cluster_pick.py" "$MATRIX" "$n") ||
		die "cannot pick $n rows of $MATRIX"
	local rows=() dcs=()
	while read -r r g; do rows+=("$r"); dcs+=("$g"); done <<<"$picks"
	: >"$DIR/latency_map.txt"
	echo "# ADDR:PORT ROW NAME (scripts/cluster.sh, matrix $MATRIX)" \
		>>"$DIR/latency_map.txt"
	for i in $(seq 0 $((n - 1))); do
		printf '127.0.0.1:%d %d node%02d\n' $((BASE_PORT + i)) "${rows[$i]}" \
			"$i" >>"$DIR/latency_map.txt"
	done
	python3 - "$MATRIX" "${rows[@]}" >"$DIR/sub_ms.txt" <<'EOF'
import sys
m = [l.split() for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
rows = [int(r) for r in sys.argv[2:]]
for r in rows:
    print(" ".join(m[r][c] for c in rows))
EOF
	cat >"$DIR/cluster.env" <<EOF
MATRIX=$MATRIX
N=$n
BASE_PORT=$BASE_PORT
HTTP_PORT=$HTTP_PORT
LATENCY=$LATENCY
PROFILE=$PROFILE
EOF

	local name args
	for i in $(seq 0 $((n - 1))); do
		name=$(printf 'node%02d' "$i")
		args=(agent -node "$name" -bind "127.0.0.1:$((BASE_PORT + i))"
			-http-addr "127.0.0.1:$((HTTP_PORT + i))" -profile "$PROFILE"
			-tag "dc=${dcs[$i]}" -tag "row=${rows[$i]}")
		[ "$i" -ne 0 ] && args+=(-join "127.0.0.1:$BASE_PORT")
		[ "$n" -gt 1 ] && [ "$i" -ne 1 ] && args+=(-join "127.0.0.1:$((BASE_PORT + 1))")
		if [ "$LATENCY" = 1 ]; then
			args+=(-latency-matrix "$MATRIX" -latency-map "$DIR/latency_map.txt")
		fi
		# setsid: Ctrl-C in the caller's terminal must not reach the
		# agents directly; `stop` ends them by PID.
		setsid "$NETCOORD" "${args[@]}" ${AGENT_ARGS[@]+"${AGENT_ARGS[@]}"} \
			</dev/null >"$DIR/$name.log" 2>&1 &
		echo "$name $! $((BASE_PORT + i)) $((HTTP_PORT + i)) ${rows[$i]} ${dcs[$i]}" \
			>>"$DIR/cluster.pids"
	done

	# Bounded wait for every HTTP endpoint.
	local deadline=$(( $(date +%s) + 15 )) pending
	while :; do
		pending=0
		while read -r name pid gp hp rest; do
			if ! kill -0 "$pid" 2>/dev/null; then
				echo "cluster.sh: $name exited; last log lines:" >&2
				tail -n 5 "$DIR/$name.log" >&2
				cmd_stop
				exit 1
			fi
			curl -sf --max-time 1 "http://127.0.0.1:$hp/v1/health" \
				>/dev/null 2>&1 || pending=$((pending + 1))
		done <"$DIR/cluster.pids"
		[ "$pending" = 0 ] && break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "cluster.sh: $pending agents not answering after 15 s" >&2
			cmd_stop
			exit 1
		fi
		sleep 0.2
	done
	echo "cluster.sh: $n agents up in $DIR ($([ "$LATENCY" = 1 ] &&
		echo "latency emulated from $(basename "$MATRIX")" ||
		echo "no latency emulation"))"
	printf '  %-7s %-7s %-6s %-6s %-4s %s\n' name pid gossip http row dc
	while read -r name pid gp hp row dc; do
		printf '  %-7s %-7s %-6s %-6s %-4s %s\n' "$name" "$pid" "$gp" "$hp" \
			"$row" "$dc"
	done <"$DIR/cluster.pids"
}

cmd_stop() {
	[ -f "$DIR/cluster.pids" ] || { echo "cluster.sh: no cluster in $DIR"; return 0; }
	local name pid rest live=()
	while read -r name pid rest; do
		if is_our_agent "$pid" "$name"; then
			kill -TERM "$pid" 2>/dev/null || true
			live+=("$pid")
		fi
	done <"$DIR/cluster.pids"
	local deadline=$(( $(date +%s) + 10 )) left
	while :; do
		left=()
		for pid in ${live[@]+"${live[@]}"}; do
			kill -0 "$pid" 2>/dev/null && left+=("$pid")
		done
		[ ${#left[@]} = 0 ] && break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
			echo "cluster.sh: killed ${#left[@]} agents that did not leave in 10 s"
			break
		fi
		sleep 0.2
	done
	rm -f "$DIR/cluster.pids"
	echo "cluster.sh: stopped ${#live[@]} agents"
}

cmd_status() {
	[ -f "$DIR/cluster.pids" ] || { echo "cluster.sh: no cluster in $DIR"; return 1; }
	local name pid gp hp row dc state alive
	while read -r name pid gp hp row dc; do
		if is_our_agent "$pid" "$name"; then
			state=running
			alive=$(curl -sf --max-time 2 "http://127.0.0.1:$hp/v1/members" |
				python3 -c 'import json,sys
print(sum(1 for m in json.load(sys.stdin) if m.get("Status") == "alive"))' \
				2>/dev/null || echo "?")
		else
			state=exited
			alive=-
		fi
		printf '%-7s %-7s %-8s gossip %-6s http %-6s row %-4s %-4s alive members: %s\n' \
			"$name" "$pid" "$state" "$gp" "$hp" "$row" "$dc" "$alive"
	done <"$DIR/cluster.pids"
}

[ $# -ge 1 ] || { usage; exit 2; }
cmd=$1; shift
N=""
if [ "$cmd" = start ]; then
	[ $# -ge 1 ] || die "start needs N"
	N=$1; shift
fi
while [ $# -gt 0 ]; do
	case "$1" in
	--matrix) MATRIX=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
	--base-port) BASE_PORT=$2; shift 2 ;;
	--http-port) HTTP_PORT=$2; shift 2 ;;
	--dir) DIR=$2; shift 2 ;;
	--profile) PROFILE=$2; shift 2 ;;
	--no-latency) LATENCY=0; shift ;;
	--netcoord) NETCOORD=$2; shift 2 ;;
	--) shift; AGENT_ARGS=("$@"); break ;;
	-h|--help) usage; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
case "$cmd" in
start) cmd_start "$N" ;;
stop) cmd_stop ;;
status) cmd_status ;;
-h|--help|help) usage ;;
*) die "unknown command $cmd (start, stop, status)" ;;
esac
