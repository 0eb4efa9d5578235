#!/usr/bin/env bash
# mock_ui.sh - map.test.js against the bundled mock API (CTest: browser_mock,
# normal build only: no agent involved). The page's own checks at scale:
# 1,000 synthetic members in 5 datacentres whose coordinate space rotates
# (layout stability), first render within 1 s, a strict CSP, a 40-member
# mock that requires a token. ~35 s. Screenshots in NC_ARTIFACTS (CTest:
# <build>/artifacts-mock, so artifacts/map.png stays the real cluster's).
# Exit 77 as in tooling.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/browser/tooling.sh
. "$HERE/tooling.sh"
nc_browser_tooling "$HERE"
unset NC_UI_URL NC_TOKEN NC_CLUSTER_JSON NC_KILL_CMD NC_KILL_NODE
exec node "$HERE/map.test.js"
