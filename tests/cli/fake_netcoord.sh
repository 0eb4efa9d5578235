#!/bin/sh
# fake_netcoord.sh - stands in for `netcoord` in the dr_failover.sh test:
# checks the arguments the script passes and prints a canned failover
# table in the exact format of cmd/cli.c (tests/cli/test_cli.c pins that
# format with the same rows).
if [ "$*" != "failover -group dc -skip-local -from a" ]; then
	echo "fake_netcoord: unexpected arguments: $*" >&2
	exit 2
fi
cat <<'TABLE'
#  DC      MEDIAN_RTT  ALIVE  MEMBERS
1  south   -           0/1    g (failed)
2  west    80.100 ms   1/3    d (80.100 ms), e (suspect, 81.000 ms), f (failed)
3  (none)  -           0/0    -
TABLE
