#!/usr/bin/env bash
# The README's test command: installs dependencies, then builds and runs every
# test twice — a normal build and an AddressSanitizer+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rc=0
for variant in build:-DNC_SANITIZE=OFF build-asan:-DNC_SANITIZE=ON; do
	dir=${variant%%:*}; opt=${variant#*:}
	echo "=== $dir ($opt) ==="
	bash scripts/build.sh "$dir" "$opt"
	(cd "$dir" && ctest --output-on-failure --timeout 600) || rc=1
done
exit $rc
