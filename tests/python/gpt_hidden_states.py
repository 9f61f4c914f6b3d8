#!/usr/bin/python3
"""Hidden states and attention weights of the PyTorch GPT-2 reference, for the inspection parity test.

The model is ``gpt_reference.GPT``, loaded from a safetensors weights file with
the configuration in its ``__metadata__`` (see gpt_reference.py). Forward hooks
read what Hugging Face's ``output_hidden_states=True`` and
``output_attentions=True`` return, under the names that Glassbox's
inspection API uses:

    embeddings              [B, T, C]     input of block 0 (token + position embeddings)
    h.{i}.output            [B, T, C]     output of block i
    h.{i}.attn.weights      [B, H, T, T]  softmax attention weights of block i
    h.{i}.mlp.activation    [B, T, 4C]    GELU output inside the MLP of block i
    hidden                  [B, T, C]     output of the final layer norm
    logits                  [B, T, V]

The reference ``Attention.forward`` does not return its weights, so a hook on
each attention module recomputes them from the module's input and parameters,
and checks that weighting the values with them reproduces the module's output.

Usage: gpt_hidden_states.py --weights W.safetensors --batch X.safetensors --out OUT.safetensors
where the batch file contains token ids ``x`` (I64 or I32, [B, T]).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Dict, List, Optional

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_reference  # noqa: E402
import st  # noqa: E402


def attention_weights(module: gpt_reference.Attention, x: torch.Tensor) -> torch.Tensor:
    """Recompute the softmax attention weights [B, H, T, T] of ``module`` for its input ``x``."""
    batch, seq, width = x.shape
    q, k, _ = module.c_attn(x).split(width, dim=2)
    q = q.view(batch, seq, module.n_head, module.head_dim).transpose(1, 2)
    k = k.view(batch, seq, module.n_head, module.head_dim).transpose(1, 2)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(module.head_dim)
    causal = torch.ones(seq, seq, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)


def check_weights_reproduce_output(
    module: gpt_reference.Attention, x: torch.Tensor, weights: torch.Tensor, output: torch.Tensor
) -> None:
    """Raise if weighting the values with ``weights`` does not give the module's own output."""
    batch, seq, width = x.shape
    _, _, v = module.c_attn(x).split(width, dim=2)
    v = v.view(batch, seq, module.n_head, module.head_dim).transpose(1, 2)
    merged = torch.matmul(weights, v).transpose(1, 2).reshape(batch, seq, width)
    difference = float((module.c_proj(merged) - output).abs().max())
    if difference > 1e-5:
        raise RuntimeError(f"recomputed attention weights do not reproduce the module output (max diff {difference})")


def hidden_states(model: gpt_reference.GPT, x: torch.Tensor) -> Dict[str, np.ndarray]:
    """Run one forward pass and return the intermediates listed in the module docstring."""
    captured: Dict[str, torch.Tensor] = {}
    handles: List[torch.utils.hooks.RemovableHandle] = []

    def keep(name: str, value: torch.Tensor) -> None:
        captured[name] = value.detach().clone()

    handles.append(model.h[0].register_forward_pre_hook(lambda _m, inputs: keep("embeddings", inputs[0])))
    for i, block in enumerate(model.h):
        handles.append(block.register_forward_hook(lambda _m, _i, out, i=i: keep(f"h.{i}.output", out)))

        def on_attention(module, inputs, out, i=i):
            weights = attention_weights(module, inputs[0])
            check_weights_reproduce_output(module, inputs[0], weights, out)
            keep(f"h.{i}.attn.weights", weights)

        handles.append(block.attn.register_forward_hook(on_attention))
        handles.append(
            block.mlp.c_fc.register_forward_hook(
                lambda _m, _i, out, i=i: keep(f"h.{i}.mlp.activation", gpt_reference.gelu_new(out))
            )
        )
    handles.append(model.ln_f.register_forward_hook(lambda _m, _i, out: keep("hidden", out)))
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for handle in handles:
            handle.remove()
    captured["logits"] = logits
    return {name: value.to(torch.float32).numpy() for name, value in captured.items()}


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="GPT-2 weights (safetensors, config in __metadata__)")
    parser.add_argument("--batch", required=True, help="safetensors file with token ids x [B, T]")
    parser.add_argument("--out", required=True, help="output safetensors path")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads value (default: PyTorch's choice)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model = gpt_reference.load_weights(args.weights, None, torch.float32)
    tensors, _ = st.load(args.batch)
    if "x" not in tensors:
        raise SystemExit(f"error: {args.batch} has no tensor 'x'; write token ids as I64 [B, T]")
    x = torch.from_numpy(tensors["x"].astype(np.int64))
    if x.ndim != 2:
        raise SystemExit(f"error: x in {args.batch} must be [B, T], got shape {list(x.shape)}")
    outputs = hidden_states(model, x)
    st.save(args.out, outputs, {"torch": torch.__version__})


if __name__ == "__main__":
    main()
