#!/usr/bin/env bash
# Installs the dependencies (when missing), configures and builds untwist into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); else generator=(); fi
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build --parallel "$(nproc)"
