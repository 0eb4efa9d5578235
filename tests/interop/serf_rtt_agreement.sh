#!/usr/bin/env bash
# serf_rtt_agreement.sh NETCOORD - `serf rtt A B` against our /v1/rtt in a
# mixed cluster on 127.0.0.1 (3 serf + 3 netcoord agents, lan profile,
# plaintext), for every pair of the six nodes.
#
# Both sides estimate from coordinates: serf from its own coordinate and
# the ones cached from its probe acks (serf 0.9.4 DistanceTo, with
# adjustments), ours from the coordinate cache of the netcoord agent asked
# (probe acks + coordinate gossip, NC estimate without adjustments). Every
# netcoord agent's coordinate reaches serf through its acks, and serf's
# through ours, so both rank in the same space. On loopback every RTT is
# sub-millisecond and coordinates wander by tens of microseconds with the
# scheduling noise, so agreement is checked with an absolute + relative
# tolerance:  |ours - serf| <= ABS_MS + REL * serf, default 0.25 ms + 50 %.
# The figures are printed (one line per pair) for the report.
# Needs the Debian serf package; skipped (77) without it.
set -euo pipefail
NETCOORD=${1:?usage: serf_rtt_agreement.sh path/to/netcoord}
. "$(dirname "$0")/../integration/lib.sh"
command -v serf >/dev/null || { log "SKIP: serf not installed"; exit 77; }
nc_setup
ABS_MS=${ABS_MS:-0.25}
REL=${REL:-0.5}
SETTLE=${SETTLE:-40}

mapfile -t P < <(nc_ports 12)
i=0
for n in s1 s2 s3 n1 n2 n3; do printf -v "G_$n" '%s' "${P[$i]}"; i=$((i + 1)); done
for n in s1 s2 s3; do printf -v "R_$n" '%s' "${P[$i]}"; i=$((i + 1)); done
for n in n1 n2 n3; do printf -v "H_$n" '%s' "${P[$i]}"; i=$((i + 1)); done
sargs=(-profile=lan -log-level=info)
nargs=(-profile lan -log-level info)

serf_up() { serf members -rpc-addr="127.0.0.1:$R_s1" >/dev/null 2>&1; }
serf_start rs1 -bind="127.0.0.1:$G_s1" -rpc-addr="127.0.0.1:$R_s1" "${sargs[@]}"
wait_for 15 "rs1 up" serf_up
serf_start rs2 -bind="127.0.0.1:$G_s2" -rpc-addr="127.0.0.1:$R_s2" "${sargs[@]}" -join="127.0.0.1:$G_s1"
nc_start rn1 -bind "127.0.0.1:$G_n1" -http-addr "127.0.0.1:$H_n1" "${nargs[@]}" -join "127.0.0.1:$G_s1"
nc_start rn2 -bind "127.0.0.1:$G_n2" -http-addr "127.0.0.1:$H_n2" "${nargs[@]}" -join "127.0.0.1:$G_s1"
serf_start rs3 -bind="127.0.0.1:$G_s3" -rpc-addr="127.0.0.1:$R_s3" "${sargs[@]}" -join="127.0.0.1:$G_s1"
nc_start rn3 -bind "127.0.0.1:$G_n3" -http-addr "127.0.0.1:$H_n3" "${nargs[@]}" -join "127.0.0.1:$G_s1"

six() {
	[ "$(serf members -rpc-addr="127.0.0.1:$R_s1" -status=alive 2>/dev/null | wc -l)" = 6 ] &&
		[ "$(nc_members "$H_n1" | grep -c ' alive$')" = 6 ]
}
wait_for 60 "six alive on rs1 and rn1" six
log "letting every node probe every other a few times (${SETTLE} s)"
sleep "$SETTLE"

nodes=(rs1 rs2 rs3 rn1 rn2 rn3)
bad=0 pairs=0 maxdiff=0
printf '    %-10s %-10s %10s %10s %10s\n' A B serf_ms ours_ms diff_ms
for ((a = 0; a < 6; a++)); do
	for ((b = a + 1; b < 6; b++)); do
		A=${nodes[$a]} B=${nodes[$b]}
		out=$(serf rtt -rpc-addr="127.0.0.1:$R_s1" "$A" "$B" 2>&1) ||
			die "serf rtt $A $B failed: $out"
		s=$(sed -n 's/.*rtt: \([0-9.]*\) ms.*/\1/p' <<<"$out")
		[ -n "$s" ] || die "serf rtt $A $B: $out"
		body=$(curl -sf "http://127.0.0.1:$H_n1/v1/rtt?from=$A&to=$B") ||
			die "/v1/rtt $A $B failed"
		o=$(sed -n 's/.*"EstimatedMs":\([0-9.eE+-]*\).*/\1/p' <<<"$body")
		[ -n "$o" ] || die "/v1/rtt $A $B has no estimate: $body"
		read -r d ok < <(awk -v s="$s" -v o="$o" -v abs="$ABS_MS" -v rel="$REL" \
			'BEGIN { d = o - s; if (d < 0) d = -d;
			         printf "%.4f %d\n", d, (d <= abs + rel * s) }')
		printf '    %-10s %-10s %10.4f %10.4f %10.4f %s\n' "$A" "$B" "$s" "$o" "$d" \
			"$([ "$ok" = 1 ] || echo MISMATCH)"
		pairs=$((pairs + 1))
		[ "$ok" = 1 ] || bad=$((bad + 1))
		maxdiff=$(awk -v a="$maxdiff" -v b="$d" 'BEGIN { print (b > a ? b : a) }')
	done
done
log "$pairs pairs, max |ours - serf| = $maxdiff ms, outside tolerance: $bad"
[ "$bad" = 0 ] || die "$bad pairs disagree beyond ${ABS_MS} ms + ${REL} x serf"
log "PASS serf_rtt_agreement"
