# tests/browser/tooling.sh - sourced by cluster_ui.sh and mock_ui.sh: exits
# 77 (skip) when the browser tooling is missing (chromium, node or
# playwright-core: scripts/setup-browser.sh installs them), or 1 when
# NC_REQUIRE_BROWSER=1 (scripts/test.sh sets it: CI must really run them).
nc_browser_tooling() {
	local here=$1 missing=()
	[ -x "${NC_CHROMIUM:-/usr/bin/chromium}" ] || missing+=("chromium (${NC_CHROMIUM:-/usr/bin/chromium})")
	command -v node >/dev/null || missing+=(node)
	[ -d "$here/node_modules/playwright-core" ] || missing+=(playwright-core)
	[ ${#missing[@]} = 0 ] && return 0
	if [ "${NC_REQUIRE_BROWSER:-0}" = 1 ]; then
		echo "FAIL: ${missing[*]} not installed (run scripts/setup-browser.sh)"
		exit 1
	fi
	echo "SKIP: ${missing[*]} not installed (run scripts/setup-browser.sh)"
	exit 77
}
