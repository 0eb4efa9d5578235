# tests/interop/serf_mixed_lib.sh - sourced by the serf_*_mixed interop
# tests (issue 11): a cluster of 3 `serf agent`s (s1..s3) and 10 netcoord
# agents (n1..n10) on 127.0.0.1, lan profile, netcoord the majority. s3
# joins through netcoord agents only, so what it hears first comes through
# them. Needs tests/integration/lib.sh sourced and nc_setup done.
#
#   mixed_cluster PREFIX KEY [SERF_ARGS...] : start the 13 agents (KEY ""
#       = plaintext); the extra arguments go to every serf agent (e.g. an
#       -event-handler). Ports: G_<node> gossip, R_<sN> serf RPC, H_<nN>
#       our HTTP. Returns once every serf lists all 13 alive.
#   mixed_stop : kill the 13 agents (by PID).
# MIXED_NC_ARGS (array, optional): extra arguments for every netcoord agent.

MIXED_N="n1 n2 n3 n4 n5 n6 n7 n8 n9 n10"
MIXED_ALL="s1 s2 s3 $MIXED_N"

mixed_serf_up() { serf members -rpc-addr="127.0.0.1:$1" >/dev/null 2>&1; }

# mixed_alive PREFIX N : every serf and every netcoord agent lists N alive.
mixed_alive() {
	local pre=$1 want=$2 p
	for p in "$R_s1" "$R_s2" "$R_s3"; do
		[ "$(serf_members "$p" | grep -c "^$pre[sn][0-9]* alive\$")" = "$want" ] || return 1
	done
	for p in $MIXED_N; do
		local v="H_$p"
		[ "$(nc_members "${!v}" | grep -c "^$pre[sn][0-9]* alive\$")" = "$want" ] || return 1
	done
}

mixed_cluster() {
	local pre=$1 key=$2; shift 2
	MIXED_PRE=$pre
	local -a enc_s=() enc_n=()
	if [ -n "$key" ]; then enc_s=(-encrypt="$key"); enc_n=(-encrypt "$key"); fi
	mapfile -t P < <(nc_ports 26)
	local i=0 n
	for n in $MIXED_ALL; do printf -v "G_$n" '%s' "${P[$i]}"; i=$((i + 1)); done
	for n in s1 s2 s3; do printf -v "R_$n" '%s' "${P[$i]}"; i=$((i + 1)); done
	for n in $MIXED_N; do printf -v "H_$n" '%s' "${P[$i]}"; i=$((i + 1)); done
	local sargs=(-profile=lan -log-level=debug "${enc_s[@]}" "$@")
	local nargs=(-profile lan -log-level debug "${enc_n[@]}" ${MIXED_NC_ARGS[@]+"${MIXED_NC_ARGS[@]}"})
	serf_start ${pre}s1 -bind="127.0.0.1:$G_s1" -rpc-addr="127.0.0.1:$R_s1" "${sargs[@]}"
	wait_for 15 "${pre}s1 up" mixed_serf_up "$R_s1"
	serf_start ${pre}s2 -bind="127.0.0.1:$G_s2" -rpc-addr="127.0.0.1:$R_s2" "${sargs[@]}" -join="127.0.0.1:$G_s1"
	wait_for 15 "${pre}s2 up" mixed_serf_up "$R_s2"
	# n1..n10 join through s1, s2 or an earlier netcoord agent.
	local prev=$G_s1 k=0
	for n in $MIXED_N; do
		local seed=$prev
		[ $((k % 3)) = 0 ] && seed=$G_s2
		local h="H_$n" g="G_$n"
		nc_start ${pre}$n -bind "127.0.0.1:${!g}" -http-addr "127.0.0.1:${!h}" "${nargs[@]}" -join "127.0.0.1:$seed"
		prev=${!g}
		k=$((k + 1))
		sleep 0.3
	done
	serf_start ${pre}s3 -bind="127.0.0.1:$G_s3" -rpc-addr="127.0.0.1:$R_s3" "${sargs[@]}" -join="127.0.0.1:$G_n5" -join="127.0.0.1:$G_n9"
	wait_for 15 "${pre}s3 up" mixed_serf_up "$R_s3"
	wait_for 75 "all 13 agents see 13 alive" mixed_alive "$pre" 13
}

mixed_stop() {
	local n
	for n in $MIXED_ALL; do
		local p
		p=$(pid_of "$MIXED_PRE$n")
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
	done
}
