#!/usr/bin/env bash
# Installs what netcoord needs to build and test, from Debian packages only.
# Idempotent: packages already present are skipped without touching apt.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libmicrohttpd-dev libcjson-dev libssl-dev
      libcunit1-dev libmsgpuck-dev libcurl4-openssl-dev serf wrk curl python3 iproute2 procps
      dpkg-dev systemd openssl)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "setup: installing ${missing[*]}"
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
