#!/usr/bin/env bash
# Installs the Debian packages untwist builds and runs with (see DESIGN.md),
# and the browser test's puppeteer-core from npm into tests/browser/node_modules.
# Idempotent: apt-get runs only when a package is missing.
#   scripts/setup.sh             what the build, tests and demo need
#   scripts/setup.sh --sanitize  also clang and libFuzzer (sanitizer build, bench/fuzz.sh)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread
  nlohmann-json3-dev libstb-dev
  libsentencepiece-dev libicu-dev zlib1g-dev
  libplplot-dev plplot-driver-cairo libcairo2-dev fonts-dejavu-core
  libcli11-dev
  libcpp-httplib-dev libsqlite3-dev chromium
  libgtest-dev libbenchmark-dev
)
if [ "${1:-}" = "--sanitize" ]; then
  packages+=(clang libclang-rt-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The browser test drives the page with node; Debian's nodejs and npm unless
# a node is already installed (its npm with it).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
else
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# puppeteer-core for the browser test, into tests/browser/node_modules (git
# ignores it), at the version package-lock.json pins; it uses Debian's chromium.
browser_dir="$(dirname "$0")/../tests/browser"
if [ ! -d "$browser_dir/node_modules/puppeteer-core" ]; then
  echo "setup: installing puppeteer-core into tests/browser/node_modules"
  npm ci --prefix "$browser_dir" --ignore-scripts --no-audit --no-fund --loglevel=error
fi
