#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer)
# in build-sanitize/ and runs each for SECONDS (default 600), one after the other.
#   bench/fuzz.sh [SECONDS] [TARGET...]
# Inputs that crash are written to build-sanitize/fuzz-crashes/TARGET/; the
# growing corpus is kept in build-sanitize/fuzz-corpus/TARGET/ (seeded from
# fuzz/seeds/). Prints executions and crashes per target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_safetensors fuzz_gguf fuzz_image fuzz_clip_tokenizer fuzz_t5_tokenizer fuzz_cli_values fuzz_serve_request)
fi

scripts/setup.sh --sanitize
if [ ! -f build-sanitize/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DUNTWIST_SANITIZE=ON -DUNTWIST_FUZZ=ON -DUNTWIST_BUILD_BENCH=OFF
fi
cmake --build build-sanitize --target "${targets[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
status=0
for target in "${targets[@]}"; do
  corpus="build-sanitize/fuzz-corpus/$target"
  crashes="build-sanitize/fuzz-crashes/$target"
  mkdir -p "$corpus" "$crashes"
  log="build-sanitize/fuzz-$target.log"
  started=$SECONDS
  set +e
  "build-sanitize/$target" "$corpus" "fuzz/seeds/$target" -max_total_time="$seconds" -rss_limit_mb=4096 \
    -timeout=20 -max_len=65536 -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1
  code=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  found=$(find "$crashes" -type f | wc -l)
  echo "$target: $((SECONDS - started)) s, $runs executions, $found crashing inputs (exit $code; log $log)"
  if [ "$code" -ne 0 ] || [ "$found" -ne 0 ]; then status=1; fi
done
exit "$status"
