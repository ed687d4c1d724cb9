#!/usr/bin/env bash
# Peak resident memory of `untwist generate` with and without --low-memory, on
# random weights at FLUX.1's widths: a DiT of 2 double + 4 single blocks and a
# T5 at T5-XXL's width with 6 layers (both about 2.4 GiB in bfloat16), CLIP-L,
# and the tiny golden autoencoder. Float32 compute, one 64x64 image (256 tokens with that autoencoder), 1 step.
#   bench/pipeline_rss.sh [T5_LAYERS]
set -euo pipefail
cd "$(dirname "$0")/.."
t5_layers="${1:-6}"
shared="$(cd ../shared && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

build/bench_write_flux_width "$work" --t5-layers "$t5_layers" --latent-channels 4
components=(--model "$work/dit.safetensors" --t5 "$work/t5.safetensors" --clip "$work/clip.safetensors"
            --ae "$shared/golden/ae_tiny.safetensors" --t5-tokenizer "$shared/tokenizers/t5_tiny/spiece.model"
            --clip-tokenizer "$shared/tokenizers/clip/bpe_simple_vocab_16e6.txt.gz")
printf '\n%-14s %14s %10s\n' run "peak RSS GiB" seconds
for memory in "" --low-memory; do
  /usr/bin/time -f "%M %e" -o "$work/time" build/untwist generate "${components[@]}" -p "a red fox" \
    -W 64 -H 64 --steps 1 --t5-max-length 64 --guidance 3.5 $memory -o "$work/out" > /dev/null
  read -r kib seconds < "$work/time"
  awk -v k="$kib" -v m="${memory:-default}" -v s="$seconds" 'BEGIN { printf "%-14s %14.2f %10.1f\n", m, k / 1048576, s }'
done
