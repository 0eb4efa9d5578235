#!/usr/bin/env bash
# The README's test command: installs dependencies, then builds and runs every
# test twice — a normal build and an AddressSanitizer+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser tests (ctest label browser, tests/browser/) need chromium and
# playwright-core: install them, and make a missing one a failure, not a skip.
bash scripts/setup-browser.sh
# browser_map (real agents) runs in both passes: ~40 s each, the agents
# under ASan meet the same bounds; browser_mock (no agent) only in build/.
export NC_REQUIRE_BROWSER=1
# Accuracy checks (label accuracy: cluster_matrix ~100 s, serf_rtt_agreement
# ~45 s) run in the normal build only, and so do three of the serf interop
# tests (serf_interop, serf_events_mixed, serf_conflict_mixed, ~2.5 min):
# under ASan the serf-facing code runs in serf_queries_mixed and
# serf_keys_mixed (relay, queries we answer and originate, encryption), the
# unit tests (serf_relay, serf_collect) and the fuzzers (tests/fuzz). This
# keeps both passes near the 15-minute target.
rc=0
for variant in "build:-DNC_SANITIZE=OFF::" \
	"build-asan:-DNC_SANITIZE=ON:accuracy:serf_(interop|events_mixed|conflict_mixed)"; do
	IFS=: read -r dir opt skip_labels skip_names <<<"$variant"
	echo "=== $dir ($opt) ==="
	bash scripts/build.sh "$dir" "$opt"
	(cd "$dir" && ctest --output-on-failure --timeout 600 \
		${skip_labels:+-LE "$skip_labels"} ${skip_names:+-E "$skip_names"}) || rc=1
done
exit $rc
