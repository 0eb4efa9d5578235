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
# cluster_matrix (label accuracy, ~100 s) measures coordinate accuracy of a
# 12-agent cluster against the matrix: it runs in the normal build only; the
# code it drives runs under ASan in agent_cluster, examples and browser_map.
rc=0
for variant in build:-DNC_SANITIZE=OFF: build-asan:-DNC_SANITIZE=ON:accuracy; do
	IFS=: read -r dir opt skip <<<"$variant"
	echo "=== $dir ($opt) ==="
	bash scripts/build.sh "$dir" "$opt"
	(cd "$dir" && ctest --output-on-failure --timeout 600 ${skip:+-LE "$skip"}) || rc=1
done
exit $rc
