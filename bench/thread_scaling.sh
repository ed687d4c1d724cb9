#!/usr/bin/env bash
# DiT forward time (mid-size random model, float32) from 1 thread to all cores.
#   bench/thread_scaling.sh [IMAGE_TOKENS]
set -euo pipefail
cd "$(dirname "$0")/.."
tokens="${1:-1024}"
cores="$(nproc)"
printf '%-8s %10s %9s %9s\n' threads "forward s" "speed-up" "matmul"
base=""
for ((threads = 1; threads <= cores; threads++)); do
  row=$(build/bench_dit_forward --threads "$threads" --image-tokens "$tokens" --bf16-repeats 0 --repeats 2 |
        awk '$1 == "float32" { print $3, $5 }')
  read -r seconds matmul <<< "$row"
  base="${base:-$seconds}"
  awk -v t="$threads" -v s="$seconds" -v b="$base" -v m="$matmul" \
    'BEGIN { printf "%-8d %10.3f %8.2fx %9.1f\n", t, s, b / s, m }'
done
