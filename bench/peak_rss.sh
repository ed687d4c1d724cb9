#!/usr/bin/env bash
# Peak resident memory of `untwist dit` (one forward pass) on a random DiT at
# FLUX.1's real widths, stored in bfloat16, computed in bfloat16 (weights used
# in place from the mapped file) and in float32 (converted layer by layer).
#   bench/peak_rss.sh [DOUBLE_BLOCKS SINGLE_BLOCKS [IMAGE_TOKENS TEXT_TOKENS]]
# Defaults: 2 double + 4 single blocks, 16 image + 16 text tokens (few tokens:
# the figure is the weights' memory; bfloat16 matmul is slow on most CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
double="${1:-2}" single="${2:-4}" image="${3:-16}" text="${4:-16}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

build/bench_write_flux_width "$work" --double "$double" --single "$single" --image-tokens "$image" --text-tokens "$text"
file_gib=$(awk -v b="$(stat -c %s "$work/dit.safetensors")" 'BEGIN { printf "%.2f", b / 1073741824 }')
printf '\n%-10s %16s %16s %12s %10s\n' compute "weights file GiB" "peak RSS GiB" "RSS / file" "seconds"
for dtype in bf16 f32; do
  /usr/bin/time -f "%M %e" -o "$work/time" build/untwist dit --weights "$work/dit.safetensors" \
    --inputs "$work/inputs.safetensors" --output "$work/out.safetensors" --dtype "$dtype" > /dev/null
  read -r kib seconds < "$work/time"
  awk -v k="$kib" -v f="$file_gib" -v d="$dtype" -v s="$seconds" \
    'BEGIN { g = k / 1048576; printf "%-10s %16.2f %16.2f %12.2f %10.1f\n", d, f, g, g / f, s }'
done
echo
echo "Float32 weights converted at load would need 2 x the file; bfloat16 compute maps the file in place."
