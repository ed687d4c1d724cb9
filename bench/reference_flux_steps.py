#!/usr/bin/python3
"""The reference FLUX.1 code's sampling steps beside the whole `untwist dit`
process, on the same random weights, inputs and libtorch (bench/RESULTS.md,
Native bfloat16).

Needs python3-torch (Debian's is the same libtorch 1.13 untwist links) and a
checkout of black-forest-labs/flux. That code imports einops and calls
torch.nn.functional.scaled_dot_product_attention (PyTorch 2); neither exists
beside Debian 12's torch, so this script supplies the three einops patterns
the model uses and plain attention (softmax(q k^T / sqrt(D)) v in the
operands' dtype, libtorch's kernels; the fastest of the plain forms tried)
before importing it. Run it under the thread policies untwist sets for
itself (OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4; they made no
difference to the reference here).

    /usr/bin/python3 bench/reference_flux_steps.py --flux-src PATH/flux --untwist build/untwist \
        [--image-tokens 1024] [--text-tokens 128] [--steps 2] [--dir DIR]

Writes weights.safetensors and inputs.safetensors (bfloat16, FLUX.1 layout) to
DIR, times the reference's steps (after one untimed forward, so that its
one-time costs are not counted), times `untwist dit --steps N` as a process
(start-up and loading included) and compares the two samples.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import types

import torch

# The mid-size model of bench_dit_forward (bench/bench_support.h).
PARAMS = dict(in_channels=64, out_channels=64, vec_in_dim=768, context_in_dim=4096, hidden_size=1024,
              mlp_ratio=4.0, num_heads=16, depth=2, depth_single_blocks=4, axes_dim=[8, 28, 28], theta=10000,
              qkv_bias=True, guidance_embed=True)


def rearrange(x, pattern, **sizes):
    """The einops patterns the reference model uses, and no others."""
    if pattern == "B L (K H D) -> K B H L D":
        b, l, _ = x.shape
        return x.reshape(b, l, sizes["K"], sizes["H"], -1).permute(2, 0, 3, 1, 4)
    if pattern == "B H L D -> B L (H D)":
        b, h, l, d = x.shape
        return x.permute(0, 2, 1, 3).reshape(b, l, h * d)
    if pattern == "b n d (i j) -> b n d i j":
        return x.reshape(*x.shape[:-1], sizes["i"], sizes["j"])
    raise NotImplementedError(pattern)


def attention(q, k, v):
    # The scale on the queries: dividing the bfloat16 scores took longer than the softmax.
    scores = torch.matmul(q * (1 / math.sqrt(q.shape[-1])), k.transpose(-2, -1))
    return torch.matmul(torch.softmax(scores, dim=-1), v)


def import_reference(flux_src):
    sys.modules["einops"] = types.SimpleNamespace(rearrange=rearrange)
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        torch.nn.functional.scaled_dot_product_attention = attention
    sys.path.insert(0, os.path.join(flux_src, "src"))
    from flux.model import Flux, FluxParams  # noqa: E402
    return Flux, FluxParams


DTYPES = {torch.bfloat16: "BF16", torch.float32: "F32"}


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = t.view(torch.int16 if t.dtype == torch.bfloat16 else torch.int32).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for raw in blobs:
            f.write(raw)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = {"BF16": torch.bfloat16, "F32": torch.float32}[info["dtype"]]
        raw = bytearray(data[8 + length + start:8 + length + end])
        tensors[name] = torch.frombuffer(raw, dtype=dtype).reshape(info["shape"]) if raw else torch.empty(0)
    return tensors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flux-src", required=True, help="checkout of black-forest-labs/flux")
    parser.add_argument("--untwist", required=True, help="the untwist binary")
    parser.add_argument("--image-tokens", type=int, default=1024)
    parser.add_argument("--text-tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where the files go (default: a temporary folder)")
    args = parser.parse_args()
    Flux, FluxParams = import_reference(args.flux_src)
    folder = args.dir or tempfile.mkdtemp()
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())

    with torch.no_grad():
        model = Flux(FluxParams(**PARAMS)).to(torch.bfloat16).eval()
    # Default initialisation gives activations far from a trained model's; the
    # timing does not depend on the values, the comparison only needs them finite.
    side = int(math.isqrt(args.image_tokens))
    ids = torch.zeros(side, side, 3)
    ids[..., 1] = torch.arange(side)[:, None]
    ids[..., 2] = torch.arange(side)[None, :]
    inputs = {
        "in.img": torch.randn(1, side * side, PARAMS["in_channels"]).to(torch.bfloat16),
        "in.img_ids": ids.reshape(1, side * side, 3),
        "in.txt": torch.randn(1, args.text_tokens, PARAMS["context_in_dim"]).to(torch.bfloat16),
        "in.txt_ids": torch.zeros(1, args.text_tokens, 3),
        "in.y": torch.randn(1, PARAMS["vec_in_dim"]).to(torch.bfloat16),
        "in.guidance": torch.full((1,), 3.5),
    }
    weights_path, inputs_path = os.path.join(folder, "weights.safetensors"), os.path.join(folder, "inputs.safetensors")
    output_path = os.path.join(folder, "out.safetensors")
    save_safetensors(weights_path, dict(model.state_dict()))
    save_safetensors(inputs_path, inputs)

    command = [args.untwist, "dit", "--weights", weights_path, "--inputs", inputs_path, "--output", output_path,
               "--steps", str(args.steps), "--axes-dim", ",".join(map(str, PARAMS["axes_dim"]))]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    untwist_s = time.perf_counter() - start
    out = load_safetensors(output_path)
    schedule = out["out.schedule"].float().tolist()

    def forward(img, t):
        return model(img=img, img_ids=inputs["in.img_ids"], txt=inputs["in.txt"], txt_ids=inputs["in.txt_ids"],
                     y=inputs["in.y"], timesteps=torch.full((1,), t, dtype=torch.bfloat16),
                     guidance=inputs["in.guidance"].to(torch.bfloat16))

    with torch.no_grad():
        forward(inputs["in.img"], schedule[0])  # untimed: the reference's one-time costs
        start = time.perf_counter()
        img = inputs["in.img"]
        for t_curr, t_prev in zip(schedule[:-1], schedule[1:]):
            img = img + (t_prev - t_curr) * forward(img, t_curr)
        reference_s = time.perf_counter() - start

    mine = out["out.denoised"].float()
    difference = (mine - img.float()).norm().item() / img.float().norm().item()
    print(f"schedule {[round(t, 4) for t in schedule]}, {PARAMS['hidden_size']} hidden, "
          f"{args.image_tokens} image + {args.text_tokens} text tokens, {torch.get_num_threads()} threads")
    print(f"reference, {args.steps} steps alone (bfloat16): {reference_s:.3f} s")
    print(f"untwist dit --steps {args.steps}, whole process:  {untwist_s:.3f} s")
    print(f"relative difference of the samples: {difference:.2e}")


if __name__ == "__main__":
    main()
