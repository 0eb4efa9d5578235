#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the
# accuracy simulator on the bundled 200-node PlanetLab matrix.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
exec ./build/cmd/netcoord sim -matrix tests/data/planetlab200_ms.txt "$@"
