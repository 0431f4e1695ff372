#!/usr/bin/env bash
# Installs the Debian packages Sluice needs to build and test, and the pinned npm test tooling.
# Idempotent: asks apt only for what is missing. Usage: scripts/install-deps.sh [build|check|bench]
set -euo pipefail
mode=${1:-check}
pkgs=(build-essential cmake ninja-build pkg-config libmicrohttpd-dev libcurl4-openssl-dev
      libjansson-dev libsqlite3-dev libpq-dev liblua5.4-dev duktape-dev zlib1g-dev sqlite3 curl jq)
case "$mode" in
  check) pkgs+=(libcmocka-dev clang libclang-rt-14-dev nodejs npm postgresql chromium) ;;
  bench) pkgs+=(wrk nginx-light) ;;
  build) ;;
  *) echo "usage: $0 [build|check|bench]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node may come from elsewhere than Debian's package (as on our build machines); accept a working node+npm.
if [ ${#missing[@]} -gt 0 ] && command -v node >/dev/null && command -v npm >/dev/null; then
  keep=(); for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || keep+=("$p"); done
  missing=("${keep[@]+"${keep[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "$mode" = check ] && [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
