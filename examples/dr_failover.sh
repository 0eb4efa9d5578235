#!/bin/sh
# dr_failover.sh - where should this node fail over to if its datacenter
# goes down? Prints the other datacenters in failover order (by the median
# estimated RTT of their healthy members, from network coordinates), then
# the first one that has a healthy member.
#
#   dr_failover.sh [-group KEY] [-include-local] [netcoord flags...]
#
#   -group KEY       tag that names the datacenter (default: dc)
#   -include-local   keep this node's own datacenter in the list
#   anything else    passed to `netcoord failover` (-from NODE,
#                    -http-addr HOST:PORT or https://HOST:PORT, -ca-file
#                    FILE for an agent serving HTTPS, -token T, -timeout D)
#
# Environment: NETCOORD (the netcoord binary; default: netcoord in PATH),
# NETCOORD_HTTP_ADDR, NETCOORD_HTTP_TOKEN, NETCOORD_CACERT (read by
# netcoord itself).
#
# Only netcoord and POSIX sh/awk are needed: the table's columns are
# "#  DC  MEDIAN_RTT  ALIVE  MEMBERS", MEDIAN_RTT being "-" for a group
# without a healthy member, "(none)" the members without the tag (never
# picked). Tag values containing spaces would shift the
# columns; use `netcoord failover -json` and a JSON tool for those.
#
# Exit status: 0 a target was found; 1 no other datacenter has a healthy
# member, or netcoord failed (its message is on stderr); 2 bad arguments.
set -eu

NETCOORD=${NETCOORD:-netcoord}
group=dc
skip=-skip-local
while [ $# -gt 0 ]; do
	case $1 in
	-group | --group)
		[ $# -ge 2 ] || { echo "dr_failover.sh: -group needs a value" >&2; exit 2; }
		group=$2
		shift 2
		;;
	-group=* | --group=*)
		group=${1#*=}
		shift
		;;
	-include-local | --include-local)
		skip=
		shift
		;;
	-h | -help | --help)
		sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		break
		;;
	esac
done

# One call: the order and the pick must come from the same snapshot.
table=$("$NETCOORD" failover -group "$group" $skip "$@") || exit 1
printf '%s\n' "$table"

target=$(printf '%s\n' "$table" |
	awk 'NR > 1 && $3 != "-" && $2 != "(none)" { print $2 " (median " $3 " " $4 ")"; exit }')
if [ -z "$target" ]; then
	echo "no other $group has a healthy member" >&2
	exit 1
fi
echo
echo "fail over to: $target"
