#!/usr/bin/env bash
# Installs the Debian packages untwist builds and runs with (see DESIGN.md).
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
  libcpp-httplib-dev libsqlite3-dev
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

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
