#!/usr/bin/env bash
# bench/serf_compare.sh [NETCOORD] - netcoord agents and serf agents side by
# side on 127.0.0.1, in one run. Not a test: it prints figures and ratios.
#
# Layout: TWO SEPARATE clusters running at the same time, N serf agents
# (s0..) and N netcoord agents (n0..), same timing profile (PROFILE, default
# lan, which is what `serf agent` uses by default). Separate clusters keep
# each side's traffic and verdicts its own; running them together means
# both see the same machine load.
#
# Measured (after all N see N alive and SETTLE seconds):
#   rss        VmRSS per agent (/proc/PID/status), median
#   anon       Anonymous and Private_Dirty per agent (/proc/PID/smaps_rollup)
#   cpu        utime+stime per agent over IDLE seconds (/proc/PID/stat),
#              as CPU-seconds per agent per minute, mean
#   udp        UDP datagrams sent per agent per second over the same window:
#              ours = sum of env.udp_out from GET /v1/stats; serf = the
#              host's Udp OutDatagrams delta (/proc/net/snmp) minus ours
#              (serf has no per-agent counter; other UDP traffic on the host
#              during the window is counted as serf's, so this is an upper
#              bound for serf)
#   freeze     3 agents of each cluster SIGSTOP 2 s / SIGCONT 2 s for FREEZE
#              seconds: healthy agents ever declared failed (distinct names
#              in EventMemberFailed lines during the freeze + 15 s)
#   detect     KILLS runs: kill -9 one agent of each cluster at the same
#              instant; time until the first and the last surviving agent
#              logs EventMemberFailed for it (log polling, 0.1 s resolution);
#              median over runs
#   mem@1000   one extra agent of each kind joins bench/fake_seed.py, which
#              hands it FAKE (1000) members; RSS / Anonymous after MEMWAIT s
#
# Environment: N (30), PROFILE (lan), SETTLE (15), IDLE (60), FREEZE (60;
# 0 skips), KILLS (3), FAKE (1000; 0 skips), MEMWAIT (20), KEEP=1 keeps
# logs. KILLS must stay below N - 3 (victims are the highest-numbered).
# Runtime with the defaults: about 5 minutes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NETCOORD=${1:-$HERE/../build/cmd/netcoord}
[ -x "$NETCOORD" ] || { echo "usage: $0 path/to/netcoord" >&2; exit 2; }
command -v serf >/dev/null || { echo "serf not installed" >&2; exit 2; }
. "$HERE/../tests/integration/lib.sh"
nc_setup
[ "${KEEP:-0}" = 1 ] && NC_KEEP_LOGS=1

N=${N:-30}
PROFILE=${PROFILE:-lan}
SETTLE=${SETTLE:-15}
IDLE=${IDLE:-60}
FREEZE=${FREEZE:-60}
KILLS=${KILLS:-3}
FAKE=${FAKE:-1000}
MEMWAIT=${MEMWAIT:-20}
TCK=$(getconf CLK_TCK)
T0=$(date +%s)

mapfile -t P < <(nc_ports $((4 * N + 6)))
SG=("${P[@]:0:N}")            # serf gossip
SR=("${P[@]:N:N}")            # serf rpc
NG=("${P[@]:2*N:N}")          # netcoord gossip
NH=("${P[@]:3*N:N}")          # netcoord http
X=("${P[@]:4*N:6}")           # extras: fake seed, mem agents

log "starting $N serf + $N netcoord agents (profile $PROFILE)"
for i in $(seq 0 $((N - 1))); do
	j=()
	[ "$i" -gt 0 ] && j=(-join="127.0.0.1:${SG[0]}")
	serf_start s$i -bind="127.0.0.1:${SG[$i]}" -rpc-addr="127.0.0.1:${SR[$i]}" \
		-profile="$PROFILE" "${j[@]}"
	j=()
	[ "$i" -gt 0 ] && j=(-join "127.0.0.1:${NG[0]}")
	nc_start n$i -bind "127.0.0.1:${NG[$i]}" -http-addr "127.0.0.1:${NH[$i]}" \
		-profile "$PROFILE" "${j[@]}"
	[ "$i" = 0 ] && sleep 0.5
	sleep 0.05
done

full() {
	local i
	for i in 0 $((N / 2)) $((N - 1)); do
		[ "$(count_status serf_members "${SR[$i]}" alive)" = "$N" ] || return 1
		[ "$(count_status nc_members "${NH[$i]}" alive)" = "$N" ] || return 1
	done
}
wait_for 90 "both clusters converged to $N alive" full
log "settling ${SETTLE}s"
sleep "$SETTLE"

spids() { local i; for i in $(seq 0 $((N - 1))); do pid_of s$i; done; }
npids() { local i; for i in $(seq 0 $((N - 1))); do pid_of n$i; done; }
median() { sort -n | awk '{a[NR]=$1} END{if(NR==0){print "nan"; exit} print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^Anonymous:/{print $2}' "/proc/$1/smaps_rollup"; }
pdirty_kb() { awk '/^Private_Dirty:/{print $2}' "/proc/$1/smaps_rollup"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sum_ticks() { local p s=0; for p in "$@"; do s=$((s + $(ticks "$p"))); done; echo $s; }
snmp_out() { awk '/^Udp:/{if (++n == 2) print $5}' /proc/net/snmp; }
our_udp_out() {
	local i s=0 v
	for i in $(seq 0 $((N - 1))); do
		v=$(curl -sf --max-time 2 "http://127.0.0.1:${NH[$i]}/v1/stats" |
			grep -o '"udp_out":[0-9]*' | cut -d: -f2) || v=0
		s=$((s + ${v:-0}))
	done
	echo $s
}
mib() { awk -v k="$1" 'BEGIN{printf "%.2f", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "n/a"; else printf "%.2f", a / b}'; }

# ---------------------------------------------------------------- memory
S_RSS=$(for p in $(spids); do rss_kb "$p"; done | median)
N_RSS=$(for p in $(npids); do rss_kb "$p"; done | median)
S_ANON=$(for p in $(spids); do anon_kb "$p"; done | median)
N_ANON=$(for p in $(npids); do anon_kb "$p"; done | median)
S_PD=$(for p in $(spids); do pdirty_kb "$p"; done | median)
N_PD=$(for p in $(npids); do pdirty_kb "$p"; done | median)
log "memory sampled"

# ---------------------------------------------------------------- idle CPU + UDP
log "idle window ${IDLE}s (CPU, UDP)"
mapfile -t SP < <(spids)
mapfile -t NP < <(npids)
s0=$(sum_ticks "${SP[@]}"); n0=$(sum_ticks "${NP[@]}")
u0=$(snmp_out); o0=$(our_udp_out)
sleep "$IDLE"
s1=$(sum_ticks "${SP[@]}"); n1=$(sum_ticks "${NP[@]}")
u1=$(snmp_out); o1=$(our_udp_out)
S_CPU=$(awk -v t=$((s1 - s0)) -v k="$TCK" -v n="$N" -v w="$IDLE" 'BEGIN{printf "%.3f", t / k / n / (w / 60)}')
N_CPU=$(awk -v t=$((n1 - n0)) -v k="$TCK" -v n="$N" -v w="$IDLE" 'BEGIN{printf "%.3f", t / k / n / (w / 60)}')
N_UDP=$(awk -v d=$((o1 - o0)) -v n="$N" -v w="$IDLE" 'BEGIN{printf "%.2f", d / n / w}')
S_UDP=$(awk -v d=$(((u1 - u0) - (o1 - o0))) -v n="$N" -v w="$IDLE" 'BEGIN{printf "%.2f", d / n / w}')

# ---------------------------------------------------------------- freeze
# failed_names PREFIX OFFSETFILE : distinct names in EventMemberFailed lines
# written after the recorded offsets.
record_offsets() { local f; for f in "$NC_TMP"/$1*.log; do echo "$f $(stat -c %s "$f")"; done >"$2"; }
failed_since() {
	local f off
	while read -r f off; do
		tail -c +$((off + 1)) "$f" | grep -o 'EventMemberFailed: [^ ]*' || true
	done <"$1" | awk '{print $2}' | sort -u
}
S_FALSE=n/a; N_FALSE=n/a
if [ "$FREEZE" -gt 0 ]; then
	log "freeze experiment: s1-s3 and n1-n3 SIGSTOP 2 s / SIGCONT 2 s for ${FREEZE}s"
	record_offsets s "$NC_TMP/off_s"; record_offsets n "$NC_TMP/off_n"
	FZ=("$(pid_of s1)" "$(pid_of s2)" "$(pid_of s3)" "$(pid_of n1)" "$(pid_of n2)" "$(pid_of n3)")
	end=$(( $(date +%s) + FREEZE ))
	while [ "$(date +%s)" -lt "$end" ]; do
		kill -STOP "${FZ[@]}"; sleep 2
		kill -CONT "${FZ[@]}"; sleep 2
	done
	kill -CONT "${FZ[@]}" 2>/dev/null || true
	sleep 15
	S_FALSE=$(failed_since "$NC_TMP/off_s" | wc -l)
	N_FALSE=$(failed_since "$NC_TMP/off_n" | wc -l)
	log "freeze: serf declared $S_FALSE healthy agents failed, netcoord $N_FALSE"
fi

# ---------------------------------------------------------------- detection
# detect VICTIM_S VICTIM_N : prints "sfirst slast nfirst nlast".
detect() {
	local vs=$1 vn=$2 t0 now f name
	declare -A seen=()
	local alive_s=() alive_n=()
	for f in "$NC_TMP"/s*.log; do name=$(basename "$f" .log)
		[ "$name" = "$vs" ] || ! kill -0 "$(pid_of "$name")" 2>/dev/null || alive_s+=("$f"); done
	for f in "$NC_TMP"/n*.log; do name=$(basename "$f" .log)
		[ "$name" = "$vn" ] || ! kill -0 "$(pid_of "$name")" 2>/dev/null || alive_n+=("$f"); done
	local want=$(( ${#alive_s[@]} + ${#alive_n[@]} ))
	t0=$(date +%s.%N)
	kill -KILL "$(pid_of "$vs")" "$(pid_of "$vn")"
	while [ "${#seen[@]}" -lt "$want" ]; do
		now=$(date +%s.%N)
		awk -v a="$t0" -v b="$now" 'BEGIN{exit !(b - a > 45)}' && break
		for f in $(grep -l "EventMemberFailed: $vs " "${alive_s[@]}" 2>/dev/null) \
			 $(grep -l "EventMemberFailed: $vn " "${alive_n[@]}" 2>/dev/null); do
			[ -n "${seen[$f]:-}" ] || seen[$f]=$(awk -v a="$t0" -v b="$now" 'BEGIN{printf "%.2f", b - a}')
		done
		sleep 0.1
	done
	local sf sl nf nl
	sf=$(for f in "${alive_s[@]}"; do echo "${seen[$f]:-inf}"; done | sort -g | head -1)
	sl=$(for f in "${alive_s[@]}"; do echo "${seen[$f]:-inf}"; done | sort -g | tail -1)
	nf=$(for f in "${alive_n[@]}"; do echo "${seen[$f]:-inf}"; done | sort -g | head -1)
	nl=$(for f in "${alive_n[@]}"; do echo "${seen[$f]:-inf}"; done | sort -g | tail -1)
	echo "$sf $sl $nf $nl"
}
: >"$NC_TMP/detect"
for r in $(seq 1 "$KILLS"); do
	v=$((N - r))
	res=$(detect s$v n$v)
	log "kill -9 s$v / n$v: serf first/last $(cut -d' ' -f1-2 <<<"$res") s, netcoord $(cut -d' ' -f3-4 <<<"$res") s"
	echo "$res" >>"$NC_TMP/detect"
	sleep 3
done
S_FIRST=$(awk '{print $1}' "$NC_TMP/detect" | median)
S_LAST=$(awk '{print $2}' "$NC_TMP/detect" | median)
N_FIRST=$(awk '{print $3}' "$NC_TMP/detect" | median)
N_LAST=$(awk '{print $4}' "$NC_TMP/detect" | median)

# ---------------------------------------------------------------- 1000 members
M_N_RSS=nan; M_N_ANON=nan; M_N_PD=nan; M_S_RSS=nan; M_S_ANON=nan; M_N_CNT=0; M_S_CNT=0
if [ "$FAKE" -gt 0 ] && command -v python3 >/dev/null; then
	log "memory at $FAKE members: fake seed on ${X[0]}"
	python3 "$HERE/fake_seed.py" "${X[0]}" "$FAKE" 61000 &
	NC_PIDS+=("$!")
	sleep 0.5
	nc_start m1000 -bind "127.0.0.1:${X[1]}" -http-addr "127.0.0.1:${X[2]}" \
		-profile "$PROFILE" -join "127.0.0.1:${X[0]}" -log-level warn
	serf_start sm1000 -bind="127.0.0.1:${X[3]}" -rpc-addr="127.0.0.1:${X[4]}" \
		-profile="$PROFILE" -join="127.0.0.1:${X[0]}" -log-level=warn
	sleep "$MEMWAIT"
	pm=$(pid_of m1000); ps_=$(pid_of sm1000)
	# Sampled before the member listings below: a 1,000-member
	# GET /v1/members leaves ~0.3 MiB of freed cJSON nodes resident until
	# the agent's next malloc_trim (10 s), and listing serf's allocates too.
	if kill -0 "$pm" 2>/dev/null; then
		M_N_RSS=$(rss_kb "$pm"); M_N_ANON=$(anon_kb "$pm"); M_N_PD=$(pdirty_kb "$pm")
	fi
	if kill -0 "$ps_" 2>/dev/null; then
		M_S_RSS=$(rss_kb "$ps_"); M_S_ANON=$(anon_kb "$ps_")
	fi
	M_N_CNT=$(curl -sf "http://127.0.0.1:${X[2]}/v1/members" | grep -o '"Name"' | wc -l || echo 0)
	M_S_CNT=$(serf members -rpc-addr="127.0.0.1:${X[4]}" 2>/dev/null | wc -l || echo 0)
fi

# ---------------------------------------------------------------- report
echo
echo "=== netcoord vs serf: $N + $N agents on 127.0.0.1, profile $PROFILE, $(date -u '+%Y-%m-%d %H:%M UTC') ==="
printf '%-44s %12s %12s %8s\n' metric netcoord serf ours/serf
row() { printf '%-44s %12s %12s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
row "RSS per agent, MiB (median)" "$(mib "$N_RSS")" "$(mib "$S_RSS")"
row "Anonymous per agent, MiB (median)" "$(mib "$N_ANON")" "$(mib "$S_ANON")"
row "Private_Dirty per agent, MiB (median)" "$(mib "$N_PD")" "$(mib "$S_PD")"
row "idle CPU-s per agent per minute" "$N_CPU" "$S_CPU"
row "UDP datagrams sent per agent per s" "$N_UDP" "$S_UDP"
row "kill -9: first failed verdict, s (median)" "$N_FIRST" "$S_FIRST"
row "kill -9: last failed verdict, s (median)" "$N_LAST" "$S_LAST"
row "freeze: healthy agents declared failed" "$N_FALSE" "$S_FALSE"
if [ "$M_N_RSS" != nan ]; then
	row "RSS at $FAKE members, MiB" "$(mib "$M_N_RSS")" "$( [ "$M_S_RSS" = nan ] && echo nan || mib "$M_S_RSS")"
	row "Anonymous at $FAKE members, MiB" "$(mib "$M_N_ANON")" "$( [ "$M_S_ANON" = nan ] && echo nan || mib "$M_S_ANON")"
	printf '%-44s %12s %12s\n' "members listed by the 1000-member agent" "$M_N_CNT" "$M_S_CNT"
	printf '%-44s %12s\n' "Private_Dirty at $FAKE members, MiB" "$(mib "$M_N_PD")"
fi
echo "detection runs (serf first last, netcoord first last):"
sed 's/^/  /' "$NC_TMP/detect"
echo "runtime $(( $(date +%s) - T0 )) s"
