#!/usr/bin/env bash
# Installs what the browser tests (tests/browser/) need, from Debian packages
# and the npm registry only: Debian's chromium, nodejs + npm, and the pinned
# playwright-core (which never downloads a browser: tests use /usr/bin/chromium).
# Idempotent: does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup-browser: installing ${missing[*]}"
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
# playwright-core has no install script that fetches browsers, but be explicit.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd tests/browser
if [ -d node_modules/playwright-core ] &&
   node -e 'const want=require("./package.json").dependencies["playwright-core"];
            const have=require("./node_modules/playwright-core/package.json").version;
            process.exit(want===have?0:1)' 2>/dev/null; then
	exit 0
fi
if [ -f package-lock.json ]; then
	npm ci --no-audit --no-fund
else
	npm install --no-audit --no-fund
fi
