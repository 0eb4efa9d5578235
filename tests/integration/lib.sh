# tests/integration/lib.sh - helpers shared by the agent and serf interop
# tests (sourced, not run). Everything binds to 127.0.0.1; every process
# started is recorded and killed by PID on exit; every wait is bounded.
#
#   nc_setup                       temp dir, traps, tool checks
#   nc_ports N                     print N consecutive free port numbers
#   nc_start NAME ARGS...          start `netcoord agent` in the background
#   serf_start NAME ARGS...        start `serf agent` in the background
#   nc_members HTTPPORT            "name status" lines from /v1/members
#   serf_members RPCPORT           "name status" lines from serf members
#   wait_for SECS DESC CMD...      retry CMD every 0.2 s until it succeeds
#   status_is LISTER PORT NAME ST  true if LISTER shows NAME with status ST

NC_PIDS=()
NC_TMP=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "FAIL: $*"; exit 1; }

nc_cleanup() {
	local pid
	for pid in "${NC_PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${NC_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$NC_TMP" ] && [ -d "$NC_TMP" ]; then
		if [ "${NC_KEEP_LOGS:-0}" = 1 ] || [ "${NC_FAILED:-0}" = 1 ]; then
			log "logs kept in $NC_TMP"
			local f
			if [ "${NC_FAILED:-0}" = 1 ]; then
				for f in "$NC_TMP"/*.log; do
					echo "----- $f (last 40 lines)"
					tail -n 40 "$f"
				done
			fi
		else
			rm -rf "$NC_TMP"
		fi
	fi
}

nc_on_exit() {
	local rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 77 ] && NC_FAILED=1
	nc_cleanup
	exit $rc
}

nc_setup() {
	NC_TMP=$(mktemp -d /tmp/netcoord-test.XXXXXX)
	trap nc_on_exit EXIT
	trap 'exit 130' INT TERM
	command -v curl >/dev/null || { log "SKIP: curl not installed"; exit 77; }
	if command -v jq >/dev/null; then
		NC_JSON=jq
	elif command -v python3 >/dev/null; then
		NC_JSON=python3
	else
		log "SKIP: neither jq nor python3 installed"
		exit 77
	fi
}

# Is TCP or UDP port $1 in use on 127.0.0.1 (or a wildcard)?
port_busy() {
	ss -Hantu 2>/dev/null | awk '{print $5}' | grep -Eq "[:.]$1\$"
}

# Print $1 consecutive free ports below the kernel's ephemeral range
# (ip_local_port_range, usually from 32768), so that no outgoing
# connection made after the check can take one of them.
nc_ports() {
	local n=$1 tries base i ok lo=20000 hi
	hi=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$hi" -gt $((lo + n + 100)) ] || { lo=1100; }
	for tries in $(seq 1 50); do
		base=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo - n)))
		ok=1
		for i in $(seq 0 $((n - 1))); do
			if port_busy $((base + i)); then ok=0; break; fi
		done
		if [ $ok = 1 ]; then
			seq $base $((base + n - 1))
			return 0
		fi
	done
	die "no free port range"
}

# nc_start NAME ARGS... : netcoord agent, log in $NC_TMP/NAME.log,
# PID in NC_PID_<NAME>.
nc_start() {
	local name=$1; shift
	"$NETCOORD" agent -node "$name" "$@" >"$NC_TMP/$name.log" 2>&1 &
	local pid=$!
	NC_PIDS+=("$pid")
	printf -v "NC_PID_$name" '%s' "$pid"
}

# serf_start NAME ARGS... : serf agent, log in $NC_TMP/NAME.log.
serf_start() {
	local name=$1; shift
	serf agent -node="$name" "$@" >"$NC_TMP/$name.log" 2>&1 &
	local pid=$!
	NC_PIDS+=("$pid")
	printf -v "NC_PID_$name" '%s' "$pid"
}

pid_of() { local v="NC_PID_$1"; echo "${!v}"; }

# "name status" per member, from our HTTP API on port $1.
nc_members() {
	local body
	body=$(curl -sf --max-time 2 "http://127.0.0.1:$1/v1/members") || return 1
	if [ "$NC_JSON" = jq ]; then
		jq -r '.[] | "\(.Name) \(.Status)"' <<<"$body"
	else
		python3 -c 'import json,sys
for m in json.load(sys.stdin): print(m["Name"], m["Status"])' <<<"$body"
	fi
}

# "name status" per member, from `serf members` on RPC port $1.
serf_members() {
	serf members -rpc-addr="127.0.0.1:$1" 2>/dev/null | awk '{print $1, $3}'
}

# status_is LISTER PORT NAME STATUS
status_is() {
	"$1" "$2" | grep -qx "$3 $4"
}

# count_status LISTER PORT STATUS : number of members with that status.
count_status() {
	"$1" "$2" | awk -v s="$3" '$2 == s' | wc -l
}

# wait_for SECS DESCRIPTION CMD... : poll until CMD succeeds; prints the
# time it took. Fails the test on timeout.
wait_for() {
	local secs=$1 desc=$2; shift 2
	local start now
	start=$(date +%s.%N)
	while :; do
		if "$@"; then
			now=$(date +%s.%N)
			log "ok: $desc ($(awk -v a="$start" -v b="$now" 'BEGIN{printf "%.1f", b-a}') s)"
			return 0
		fi
		now=$(date +%s.%N)
		if awk -v a="$start" -v b="$now" -v s="$secs" 'BEGIN{exit !(b-a > s)}'; then
			die "timeout after ${secs}s: $desc"
		fi
		sleep 0.2
	done
}

# never_within SECS DESCRIPTION CMD... : CMD must not succeed for SECS.
never_within() {
	local secs=$1 desc=$2; shift 2
	local end=$(( $(date +%s) + secs ))
	while [ "$(date +%s)" -lt "$end" ]; do
		if "$@"; then die "$desc"; fi
		sleep 0.3
	done
	log "ok: $desc did not happen in ${secs}s"
}

# wait_exit PID SECS : wait (in this shell, not a subshell: PID must be
# our child) for PID to exit; sets WAIT_RC to its exit code or "timeout".
wait_exit() {
	local pid=$1 secs=$2 i
	WAIT_RC=timeout
	for i in $(seq 1 $((secs * 10))); do
		if ! kill -0 "$pid" 2>/dev/null; then
			WAIT_RC=0
			wait "$pid" || WAIT_RC=$?
			return 0
		fi
		sleep 0.1
	done
}
