#!/usr/bin/python3
"""GPT-2 reference in plain PyTorch for the parity tests of the TypeScript engine.

The math follows Hugging Face ``GPT2LMHeadModel`` (transformers,
src/transformers/models/gpt2/modeling_gpt2.py) with dropout off. It has learned
token and position embeddings and pre-LN blocks. Causal self-attention is
scaled by 1/sqrt(head_dim), the MLP uses the ``gelu_new`` tanh approximation
and layer norms use eps 1e-5. A final layer norm precedes an LM head tied to
``wte``.

Parameter names and layouts are those of a Hugging Face GPT-2 checkpoint without
the ``transformer.`` prefix. Linear layers use the Conv1D layout, so a weight is
[in, out] and y = x @ W + b:

    wte.weight                [V, C]      wpe.weight              [T, C]
    h.{i}.ln_1.weight/bias    [C]         h.{i}.ln_2.weight/bias  [C]
    h.{i}.attn.c_attn.weight  [C, 3C]     h.{i}.attn.c_attn.bias  [3C]
    h.{i}.attn.c_proj.weight  [C, C]      h.{i}.attn.c_proj.bias  [C]
    h.{i}.mlp.c_fc.weight     [C, 4C]     h.{i}.mlp.c_fc.bias     [4C]
    h.{i}.mlp.c_proj.weight   [4C, C]     h.{i}.mlp.c_proj.bias   [C]
    ln_f.weight/bias          [C]

The model configuration is read from the safetensors ``__metadata__`` of the
weights file, as decimal strings under the keys ``nLayer``, ``nHead``,
``nEmbd``, ``blockSize`` and ``vocabSize``.

Unlike ``GPT2LMHeadModel(labels=...)``, which shifts the labels by one position
itself, the loss here takes targets ``y`` that are already aligned with the
inputs ``x`` (nanoGPT's convention): loss = mean over all positions whose
target is not -100 of cross_entropy(logits[b, t], y[b, t]).

Run ``gpt_reference.py --help`` for the command line and the names of the
tensors it writes.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

LAYER_NORM_EPS = 1e-5
INIT_STD = 0.02
PERTURB_STD = 0.1
IGNORE_INDEX = -100

METADATA_KEYS = {
    "n_layer": "nLayer",
    "n_head": "nHead",
    "n_embd": "nEmbd",
    "block_size": "blockSize",
    "vocab_size": "vocabSize",
}

# Buffers and tied tensors that Hugging Face checkpoints may contain but that
# are not parameters here: the causal-mask buffers of older transformers
# versions and the LM head, which is tied to wte.
IGNORED_CHECKPOINT_NAMES = re.compile(r"^(h\.\d+\.attn\.(bias|masked_bias)|lm_head\.weight)$")


@dataclass(frozen=True)
class GPTConfig:
    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    vocab_size: int

    def __post_init__(self) -> None:
        for field, value in self.to_dict().items():
            if value <= 0:
                raise ValueError(f"GPT config {field} must be positive, got {value}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"nEmbd ({self.n_embd}) must be divisible by nHead ({self.n_head})")

    def to_dict(self) -> Dict[str, int]:
        return {
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_embd": self.n_embd,
            "block_size": self.block_size,
            "vocab_size": self.vocab_size,
        }

    def to_metadata(self) -> Dict[str, str]:
        return {METADATA_KEYS[k]: str(v) for k, v in self.to_dict().items()}

    @staticmethod
    def from_metadata(metadata: Dict[str, str], source: str) -> "GPTConfig":
        missing = [key for key in METADATA_KEYS.values() if key not in metadata]
        if missing:
            raise ValueError(
                f"{source}: __metadata__ is missing {missing}; write the config as decimal strings "
                f"under {list(METADATA_KEYS.values())}"
            )
        values = {}
        for field, key in METADATA_KEYS.items():
            try:
                values[field] = int(metadata[key])
            except ValueError:
                raise ValueError(f"{source}: __metadata__ {key}={metadata[key]!r} is not a decimal integer") from None
        return GPTConfig(**values)


# ----------------------------------------------------------------------------
# Model


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """Apply the tanh approximation of GELU exactly as transformers' ``NewGELUActivation``."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):
    """Affine layer with the weight stored as [in, out], as in GPT-2 checkpoints."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


class Attention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.c_attn = Conv1D(config.n_embd, 3 * config.n_embd)
        self.c_proj = Conv1D(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, width = x.shape
        q, k, v = self.c_attn(x).split(width, dim=2)
        # [B, T, C] -> [B, H, T, D]
        q = q.view(batch, seq, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(batch, seq, self.n_head, self.head_dim).transpose(1, 2)
        v = v.view(batch, seq, self.n_head, self.head_dim).transpose(1, 2)

        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        # transformers fills masked scores with finfo(dtype).min rather than -inf.
        # Both give an exact zero after softmax because the diagonal is never masked.
        causal = torch.ones(seq, seq, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)

        out = torch.matmul(weights, v).transpose(1, 2).reshape(batch, seq, width)
        return self.c_proj(out)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = Conv1D(config.n_embd, 4 * config.n_embd)
        self.c_proj = Conv1D(4 * config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=LAYER_NORM_EPS)
        self.attn = Attention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=LAYER_NORM_EPS)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2 language model whose ``named_parameters()`` are the checkpoint names."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, eps=LAYER_NORM_EPS)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Return logits [B, T, V] for token ids [B, T]."""
        seq = idx.shape[1]
        if seq > self.config.block_size:
            raise ValueError(f"sequence length {seq} exceeds blockSize {self.config.block_size}")
        positions = torch.arange(seq, device=idx.device)
        x = self.wte(idx) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        # The LM head is tied to the token embedding.
        return torch.matmul(x, self.wte.weight.t())


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Return the mean cross-entropy over all positions whose target is not -100."""
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="mean"
    )


def init_gpt2_weights(model: GPT, seed: int, perturb: bool) -> None:
    """Initialize parameters as GPT-2 does, drawing from a generator seeded with ``seed``.

    Weights and embeddings get N(0, 0.02) and both c_proj weights get
    N(0, 0.02/sqrt(2 * n_layer)). Biases start at 0 and layer-norm weights at 1.
    With ``perturb``, every bias and layer-norm parameter then gets N(0, 0.1)
    added, so tests see non-trivial values there. Values are drawn in
    ``named_parameters()`` order.
    """
    generator = torch.Generator().manual_seed(seed)
    proj_std = INIT_STD / math.sqrt(2 * model.config.n_layer)
    with torch.no_grad():
        for name, param in model.named_parameters():
            is_layer_norm = ".ln_" in f".{name}"
            if is_layer_norm and name.endswith(".weight"):
                param.fill_(1.0)
            elif name.endswith(".bias"):
                param.zero_()
            else:
                std = proj_std if name.endswith("c_proj.weight") else INIT_STD
                param.copy_(torch.normal(0.0, std, size=param.shape, generator=generator))
            if perturb and (is_layer_norm or name.endswith(".bias")):
                param.add_(torch.normal(0.0, PERTURB_STD, size=param.shape, generator=generator))


# ----------------------------------------------------------------------------
# Checkpoints and batches


def load_weights(path: str, override: Optional[GPTConfig], dtype: torch.dtype) -> GPT:
    """Build a model from a safetensors file, taking the config from its ``__metadata__``.

    ``override`` is used when the file has no config metadata. When both exist
    they must agree. A leading ``transformer.`` prefix, attention-mask buffers
    and ``lm_head.weight`` are accepted and ignored, so a Hugging Face
    ``model.safetensors`` with config metadata added also loads.
    """
    tensors, metadata = st.load(path)
    if any(key in metadata for key in METADATA_KEYS.values()) or override is None:
        config = GPTConfig.from_metadata(metadata, path)
        if override is not None and override != config:
            raise ValueError(f"{path}: config in __metadata__ {config} differs from the command line {override}")
    else:
        config = override

    model = GPT(config).to(dtype)
    expected = dict(model.named_parameters())
    loaded = set()
    for raw_name, array in tensors.items():
        name = raw_name[len("transformer.") :] if raw_name.startswith("transformer.") else raw_name
        if IGNORED_CHECKPOINT_NAMES.match(name):
            continue
        if name not in expected:
            raise ValueError(f"{path}: unexpected tensor {raw_name!r}; parameter names are {sorted(expected)}")
        param = expected[name]
        if tuple(array.shape) != tuple(param.shape):
            raise ValueError(
                f"{path}: tensor {raw_name!r} has shape {list(array.shape)}, expected {list(param.shape)} for {config}"
            )
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.asarray(array, dtype=np.float64)))
        loaded.add(name)
    missing = sorted(set(expected) - loaded)
    if missing:
        raise ValueError(f"{path}: missing parameters {missing}")
    return model


def parameters_to_numpy(model: GPT, prefix: str = "") -> Dict[str, np.ndarray]:
    return {prefix + name: param.detach().to(torch.float32).numpy().copy() for name, param in model.named_parameters()}


def load_batch(path: str, config: GPTConfig) -> Tuple[torch.Tensor, torch.Tensor]:
    """Read ``x`` and ``y`` token ids [B, T] (I64 or I32) and check them against the config."""
    tensors, _ = st.load(path)
    batch = {}
    for key in ("x", "y"):
        if key not in tensors:
            raise ValueError(f"{path}: missing tensor {key!r}; a batch holds x and y as I64 or I32 [B, T]")
        array = tensors[key]
        if array.dtype.kind != "i" or array.ndim != 2:
            raise ValueError(f"{path}: tensor {key!r} must be an integer [B, T] tensor, got {array.dtype} {array.shape}")
        batch[key] = torch.from_numpy(array.astype(np.int64))
    x, y = batch["x"], batch["y"]
    if x.shape != y.shape:
        raise ValueError(f"{path}: x has shape {list(x.shape)} but y has shape {list(y.shape)}")
    if x.shape[1] > config.block_size:
        raise ValueError(f"{path}: sequence length {x.shape[1]} exceeds blockSize {config.block_size}")
    if x.numel() and (x.min() < 0 or x.max() >= config.vocab_size):
        raise ValueError(f"{path}: x has token ids outside [0, {config.vocab_size})")
    valid_targets = y[y != IGNORE_INDEX]
    if valid_targets.numel() and (valid_targets.min() < 0 or valid_targets.max() >= config.vocab_size):
        raise ValueError(f"{path}: y has targets outside [0, {config.vocab_size}) that are not {IGNORE_INDEX}")
    return x, y


# ----------------------------------------------------------------------------
# Reference computations


def forward_backward(model: GPT, x: torch.Tensor, y: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run one forward and backward pass, leaving the gradients in ``param.grad``."""
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = lm_loss(logits, y)
    loss.backward()
    return loss.detach(), logits.detach()


def make_adamw(model: GPT, args: argparse.Namespace) -> Tuple[torch.optim.AdamW, List[str]]:
    """Create AdamW with weight decay on matrices and embeddings only (nanoGPT's rule).

    With ``--no-decay-pattern`` the rule is instead: a parameter whose name
    matches the regular expression (``re.search``) gets no weight decay, every
    other parameter does. Returns the optimizer and the names without decay.
    """
    pattern = re.compile(args.no_decay_pattern) if args.no_decay_pattern is not None else None
    decay, no_decay, no_decay_names = [], [], []
    for name, param in model.named_parameters():
        skip_decay = bool(pattern.search(name)) if pattern is not None else param.dim() < 2
        if skip_decay:
            no_decay.append(param)
            no_decay_names.append(name)
        else:
            decay.append(param)
    groups = [
        {"params": decay, "weight_decay": args.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=tuple(args.betas), eps=args.eps)
    return optimizer, no_decay_names


def global_grad_norm(model: GPT) -> torch.Tensor:
    """Return the L2 norm of all gradients, computed as clip_grad_norm_ does."""
    norms = [p.grad.detach().norm(2) for p in model.parameters() if p.grad is not None]
    return torch.stack(norms).norm(2)


def run_adamw(model: GPT, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> Dict[str, np.ndarray]:
    """Run ``--adamw-steps`` AdamW steps on the same batch and collect per-step values.

    Step k (0-based) computes the loss and gradients at the parameters reached
    after k updates, clips by global norm when ``--grad-clip`` > 0, then
    updates. ``step<k>.gradNorm`` is the norm before clipping.
    """
    optimizer, _ = make_adamw(model, args)
    outputs: Dict[str, np.ndarray] = {}
    for step in range(args.adamw_steps):
        optimizer.zero_grad(set_to_none=True)
        loss = lm_loss(model(x), y)
        loss.backward()
        if args.grad_clip > 0:
            # clip_grad_norm_ scales every gradient by max_norm / (norm + 1e-6) when that is below 1.
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=args.grad_clip)
        else:
            grad_norm = global_grad_norm(model)
        optimizer.step()
        outputs[f"step{step}.loss"] = np.array(loss.item(), dtype=np.float32)
        outputs[f"step{step}.gradNorm"] = np.array(float(grad_norm), dtype=np.float32)
    outputs.update(parameters_to_numpy(model, prefix="final."))
    return outputs


def compute_reference(model: GPT, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> Dict[str, np.ndarray]:
    loss, logits = forward_backward(model, x, y)
    outputs: Dict[str, np.ndarray] = {
        "loss": np.array(loss.item(), dtype=np.float32),
        "logits": logits.to(torch.float32).numpy(),
    }
    for name, param in model.named_parameters():
        outputs[f"grad.{name}"] = param.grad.detach().to(torch.float32).numpy().copy()
    if args.adamw_steps > 0:
        outputs.update(run_adamw(model, x, y, args))
    return outputs


def compare_with_transformers(model: GPT, x: torch.Tensor, y: torch.Tensor) -> Optional[float]:
    """Return the max logit difference against transformers' GPT2LMHeadModel, or None without transformers."""
    # NOTE: transformers is not installed where this script was written, so this
    # comparison has not been run there.
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    config = model.config
    hf_config = GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.block_size,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=LAYER_NORM_EPS,
        tie_word_embeddings=True,
    )
    hf_model = GPT2LMHeadModel(hf_config).to(next(model.parameters()).dtype).eval()
    state = {f"transformer.{name}": p.detach() for name, p in model.named_parameters()}
    result = hf_model.load_state_dict(state, strict=False)
    unexpected_missing = [k for k in result.missing_keys if not IGNORED_CHECKPOINT_NAMES.match(k[len("transformer.") :])]
    if unexpected_missing or result.unexpected_keys:
        raise RuntimeError(f"transformers state dict mismatch: missing {unexpected_missing}, unexpected {result.unexpected_keys}")
    with torch.no_grad():
        hf_logits = hf_model(input_ids=x).logits
        ours = model(x)
    return float((hf_logits - ours).abs().max())


# ----------------------------------------------------------------------------
# Self-test


def self_test() -> None:
    """Check the reference against autograd, masking rules and the safetensors code."""
    import json
    import tempfile

    torch.manual_seed(0)
    failures: List[str] = []

    def check(condition: bool, message: str) -> None:
        print(("ok    " if condition else "FAIL  ") + message)
        if not condition:
            failures.append(message)

    # Gradients of the loss with respect to every parameter, against finite differences in float64.
    tiny = GPTConfig(n_layer=1, n_head=2, n_embd=4, block_size=4, vocab_size=5)
    model = GPT(tiny).double()
    init_gpt2_weights(model, seed=1, perturb=True)
    with torch.no_grad():
        for param in model.parameters():
            # Larger weights than GPT-2's 0.02 make every path contribute visibly to the loss.
            param.add_(torch.randn_like(param) * 0.3)
    names = [name for name, _ in model.named_parameters()]
    x = torch.tensor([[1, 4, 0], [3, 3, 2]])
    y = torch.tensor([[4, IGNORE_INDEX, 2], [0, 1, 3]])

    def loss_of(*values: torch.Tensor) -> torch.Tensor:
        params = dict(zip(names, values))
        logits = functional_call(model, params, x)
        return lm_loss(logits, y)

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())
    check(torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-7, rtol=1e-5), "gradcheck of loss for every parameter (float64)")
    grads = torch.autograd.grad(loss_of(*inputs), inputs)
    zero_grads = [name for name, g in zip(names, grads) if not bool(g.abs().max() > 0)]
    check(not zero_grads, f"every parameter gets a non-zero gradient (zero: {zero_grads})")

    # Causality: changing a later token leaves earlier logits unchanged.
    with torch.no_grad():
        base = model(x)
        changed_x = x.clone()
        changed_x[:, -1] = (changed_x[:, -1] + 1) % tiny.vocab_size
        changed = model(changed_x)
    check(torch.equal(base[:, :-1], changed[:, :-1]), "logits at t depend only on tokens up to t")
    check(not torch.equal(base[:, -1], changed[:, -1]), "logits at the changed position differ")

    # The loss averages only over targets that are not -100.
    with torch.no_grad():
        log_probs = torch.log_softmax(base, dim=-1)
        mask = y != IGNORE_INDEX
        picked = log_probs.gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        manual = -(picked * mask).sum() / mask.sum()
    check(torch.allclose(lm_loss(base, y), manual, rtol=0, atol=1e-12), "loss is the mean over non-ignored targets")

    # gelu_new agrees with PyTorch's tanh approximation.
    grid = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    check(torch.allclose(gelu_new(grid), F.gelu(grid, approximate="tanh"), rtol=0, atol=1e-12), "gelu_new matches F.gelu(approximate='tanh')")

    # Safetensors round trip, including scalars, I32 and the metadata.
    arrays = {
        "b": np.arange(6, dtype=np.float32).reshape(2, 3),
        "a": np.array(1.5, dtype=np.float32),
        "i32": np.array([[1, -2]], dtype=np.int32),
        "i64": np.array([7, -100], dtype=np.int64),
    }
    blob = st.dumps(arrays, {"k": "v"})
    header_len = int.from_bytes(blob[:8], "little")
    check(header_len % 8 == 0, "safetensors header length is a multiple of 8")
    loaded, metadata = st.loads(blob)
    check(metadata == {"k": "v"}, "safetensors metadata round trip")
    check(
        all(loaded[k].dtype == v.dtype and np.array_equal(loaded[k], v) for k, v in arrays.items()),
        "safetensors tensor round trip for F32, I32, I64 and scalars",
    )
    header = json.loads(blob[8 : 8 + header_len])
    offsets = [header[name]["data_offsets"] for name in sorted(arrays)]
    check(offsets[0][0] == 0 and all(a[1] == b[0] for a, b in zip(offsets, offsets[1:])), "tensors are stored in sorted name order")

    # Weights written with metadata load back into the same model.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.safetensors")
        st.save(path, parameters_to_numpy(model), tiny.to_metadata())
        reloaded = load_weights(path, None, torch.float64)
        same = all(torch.equal(a.float().double(), b) for a, b in zip(model.parameters(), reloaded.parameters()))
    check(reloaded.config == tiny and same, "weights file round trip with config metadata")

    comparison = compare_with_transformers(model, x, y)
    if comparison is None:
        print("skip  transformers is not importable, so no comparison with GPT2LMHeadModel")
    else:
        check(comparison < 1e-9, f"logits match transformers GPT2LMHeadModel (max difference {comparison:.3g})")

    if failures:
        raise SystemExit(f"self-test failed: {len(failures)} check(s): {failures}")
    print("self-test passed")


def functional_call(model: nn.Module, params: Dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Run ``model(x)`` with ``params`` in place of its parameters (torch.func in PyTorch 2, stateless in 1.13)."""
    try:
        from torch.func import functional_call as call
    except ImportError:
        from torch.nn.utils.stateless import functional_call as call
    return call(model, params, (x,))


# ----------------------------------------------------------------------------
# Command line


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Compute GPT-2 reference values in PyTorch for the parity tests. Writes to --out: "
            "loss (F32 []), logits (F32 [B, T, V]), grad.<name> for every parameter and, with "
            "--adamw-steps K > 0, step<k>.loss and step<k>.gradNorm for k = 0..K-1 and final.<name>."
        )
    )
    io_group = parser.add_argument_group("files")
    io_group.add_argument("--weights", help="safetensors weights with the config in __metadata__")
    io_group.add_argument("--batch", help="safetensors batch with x and y token ids, I64 or I32 [B, T]")
    io_group.add_argument("--out", help="safetensors file for the reference values")
    io_group.add_argument("--self-test", action="store_true", help="run the built-in checks and exit")

    optim = parser.add_argument_group("AdamW")
    optim.add_argument("--adamw-steps", type=int, default=0, help="number of AdamW steps on the batch (default 0)")
    optim.add_argument("--lr", type=float, default=1e-3, help="learning rate, constant (default 1e-3)")
    optim.add_argument("--betas", type=float, nargs=2, default=[0.9, 0.95], metavar=("BETA1", "BETA2"))
    optim.add_argument("--eps", type=float, default=1e-8, help="AdamW epsilon (default 1e-8)")
    optim.add_argument("--weight-decay", type=float, default=0.1, help="decoupled weight decay (default 0.1)")
    optim.add_argument("--grad-clip", type=float, default=1.0, help="max global gradient norm, 0 to disable (default 1.0)")
    optim.add_argument(
        "--no-decay-pattern",
        help="regular expression: parameters whose name matches get no weight decay and all others do "
        "(default: no decay for parameters with fewer than 2 dimensions)",
    )

    init = parser.add_argument_group("random weights and batches")
    init.add_argument("--write-weights", help="write GPT-2-initialized weights with config metadata to this path")
    init.add_argument("--init-seed", type=int, default=0, help="seed for --write-weights (default 0)")
    init.add_argument("--perturb", action="store_true", help="add N(0, 0.1) to biases and layer-norm parameters")
    init.add_argument("--write-batch", help="write a random batch of x and y (I64) to this path")
    init.add_argument("--batch-seed", type=int, default=0, help="seed for --write-batch (default 0)")
    init.add_argument("--batch-size", type=int, help="rows B of --write-batch")
    init.add_argument("--seq-len", type=int, help="positions T of --write-batch (default blockSize)")
    for field in METADATA_KEYS:
        init.add_argument("--" + field.replace("_", "-"), type=int, dest=field)

    run_group = parser.add_argument_group("execution")
    run_group.add_argument("--threads", type=int, help="torch.set_num_threads value (default: PyTorch's choice)")
    run_group.add_argument(
        "--dtype", choices=["float32", "float64"], default="float32",
        help="compute precision (default float32, as the TypeScript engine); outputs are always F32",
    )
    return parser.parse_args(argv)


def config_from_flags(args: argparse.Namespace) -> Optional[GPTConfig]:
    values = {field: getattr(args, field) for field in METADATA_KEYS}
    if all(v is None for v in values.values()):
        return None
    missing = ["--" + f.replace("_", "-") for f, v in values.items() if v is None]
    if missing:
        raise SystemExit(f"error: missing {missing}; give all five config flags or none")
    return GPTConfig(**values)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.self_test:
        self_test()
        return

    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    flag_config = config_from_flags(args)

    if args.write_weights:
        if args.weights:
            raise SystemExit("error: give either --weights or --write-weights, not both")
        if flag_config is None:
            raise SystemExit("error: --write-weights needs --n-layer, --n-head, --n-embd, --block-size and --vocab-size")
        model = GPT(flag_config)
        init_gpt2_weights(model, args.init_seed, args.perturb)
        st.save(args.write_weights, parameters_to_numpy(model), flag_config.to_metadata())
        model = model.to(dtype)
    elif args.weights:
        model = load_weights(args.weights, flag_config, dtype)
    else:
        model = None

    config = model.config if model is not None else flag_config
    if args.write_batch:
        if config is None or args.batch_size is None:
            raise SystemExit("error: --write-batch needs --batch-size and a config (from --weights or the config flags)")
        seq_len = args.seq_len if args.seq_len is not None else config.block_size
        generator = torch.Generator().manual_seed(args.batch_seed)
        tokens = torch.randint(0, config.vocab_size, (args.batch_size, seq_len + 1), generator=generator)
        st.save(args.write_batch, {"x": tokens[:, :-1].numpy(), "y": tokens[:, 1:].numpy()}, config.to_metadata())

    if args.batch is None and args.out is None:
        if not (args.write_weights or args.write_batch):
            raise SystemExit("error: nothing to do; give --weights, --batch and --out (or --self-test)")
        return
    if model is None or args.batch is None or args.out is None:
        raise SystemExit("error: computing reference values needs --weights (or --write-weights), --batch and --out")

    x, y = load_batch(args.batch, model.config)
    outputs = compute_reference(model, x, y, args)
    metadata = dict(model.config.to_metadata())
    metadata.update({"torch": torch.__version__, "dtype": args.dtype, "adamwSteps": str(args.adamw_steps)})
    st.save(args.out, outputs, metadata)


if __name__ == "__main__":
    main()
