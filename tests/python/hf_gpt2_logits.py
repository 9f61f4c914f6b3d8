#!/usr/bin/python3
"""Logits of a Hugging Face GPT-2 directory, computed with the PyTorch reference of gpt_reference.py.

Reads ``config.json`` and ``model.safetensors`` of the directory as ``save_pretrained``
writes them, independently of the TypeScript loader, so that the parity test checks
that loader too. Tensor names may carry the ``transformer.`` prefix; the causal-mask
buffers are skipped and ``lm_head.weight`` must equal ``wte.weight``.

Writes a safetensors file with ``logits`` (F32 [B, T, V]) for the token ids given as
``--ids`` rows, for example ``--ids 1,2,3 --ids 4,5,6``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_reference  # noqa: E402
import st  # noqa: E402


def load_hf_directory(directory: str, dtype: torch.dtype) -> gpt_reference.GPT:
    """Build the reference model from ``config.json`` and ``model.safetensors`` in ``directory``."""
    config_path = os.path.join(directory, "config.json")
    with open(config_path, encoding="utf8") as f:
        hf = json.load(f)
    activation = hf.get("activation_function", "gelu_new")
    if activation != "gelu_new":
        raise ValueError(f"{config_path}: activation_function {activation!r} is not gelu_new")
    epsilon = hf.get("layer_norm_epsilon", 1e-5)
    if epsilon != gpt_reference.LAYER_NORM_EPS:
        raise ValueError(f"{config_path}: layer_norm_epsilon {epsilon} differs from the reference's {gpt_reference.LAYER_NORM_EPS}")
    config = gpt_reference.GPTConfig(
        n_layer=hf.get("n_layer", 12),
        n_head=hf.get("n_head", 12),
        n_embd=hf.get("n_embd", 768),
        block_size=hf.get("n_positions", 1024),
        vocab_size=hf.get("vocab_size", 50257),
    )

    weights_path = os.path.join(directory, "model.safetensors")
    tensors, _ = st.load(weights_path)
    model = gpt_reference.GPT(config).to(dtype)
    expected = dict(model.named_parameters())
    loaded = set()
    for raw_name, array in tensors.items():
        name = raw_name[len("transformer.") :] if raw_name.startswith("transformer.") else raw_name
        if name == "lm_head.weight":
            continue
        if gpt_reference.IGNORED_CHECKPOINT_NAMES.match(name):
            continue
        if name not in expected:
            raise ValueError(f"{weights_path}: unexpected tensor {raw_name!r}")
        if tuple(array.shape) != tuple(expected[name].shape):
            raise ValueError(f"{weights_path}: tensor {raw_name!r} has shape {list(array.shape)}, expected {list(expected[name].shape)}")
        with torch.no_grad():
            expected[name].copy_(torch.from_numpy(np.asarray(array, dtype=np.float64)))
        loaded.add(name)
    missing = sorted(set(expected) - loaded)
    if missing:
        raise ValueError(f"{weights_path}: missing parameters {missing}")
    lm_head = tensors.get("lm_head.weight")
    if lm_head is not None and not np.array_equal(lm_head, tensors.get("wte.weight", tensors.get("transformer.wte.weight"))):
        raise ValueError(f"{weights_path}: lm_head.weight differs from wte.weight")
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the logits of a Hugging Face GPT-2 directory for given token ids.")
    parser.add_argument("--model-dir", required=True, help="directory with config.json and model.safetensors")
    parser.add_argument("--ids", action="append", required=True, help="comma-separated token ids of one row; rows must have equal length")
    parser.add_argument("--out", required=True, help="safetensors file to write logits (F32 [B, T, V]) to")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64", help="compute precision (default float64)")
    args = parser.parse_args()

    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    model = load_hf_directory(args.model_dir, dtype)
    rows = [[int(v) for v in row.split(",")] for row in args.ids]
    if len({len(row) for row in rows}) != 1:
        raise SystemExit("error: every --ids row must have the same length")
    with torch.no_grad():
        logits = model(torch.tensor(rows, dtype=torch.long))
    st.save(args.out, {"logits": logits.to(torch.float32).numpy()}, {"torch": torch.__version__})


if __name__ == "__main__":
    main()
