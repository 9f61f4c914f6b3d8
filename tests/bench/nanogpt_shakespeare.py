#!/usr/bin/python3
"""nanoGPT's character-level Shakespeare run in plain PyTorch, as a reference for `glassbox train`.

Reproduces what ``python train.py config/train_shakespeare_char.py --device=cpu --compile=False
--block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000
--lr_decay_iters=2000 --dropout=0.0`` computes in nanoGPT (github.com/karpathy/nanoGPT, model.py and
train.py): characters of the whole text as the vocabulary, the first 90% for training and the rest for
validation, random windows drawn with ``torch.randint``, GPT-2 initialization with the residual
projections scaled by 1/sqrt(2 n_layer), tied embeddings, AdamW (weight decay 0.1 on tensors of two or
more dimensions, betas 0.9 and 0.99), linear warmup over 100 steps to 1e-3 and cosine decay to 1e-4,
gradient clipping at 1.0. ``--bias`` adds the biases of nanoGPT's ``bias=True`` (GPT-2's layout).

Prints one JSON object with the train and validation losses of each evaluation.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, bias: bool):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(n_embd, elementwise_affine=True)
        if not bias:
            self.ln_1.bias = None
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.attn_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.ln_2 = nn.LayerNorm(n_embd)
        if not bias:
            self.ln_2.bias = None
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.mlp_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        weights = F.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        y = (weights @ v).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.attn_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab: int, block_size: int, n_layer: int, n_head: int, n_embd: int, bias: bool):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.h = nn.ModuleList(Block(n_embd, n_head, bias) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        if not bias:
            self.ln_f.bias = None
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)
        for name, parameter in self.named_parameters():
            if name.endswith("_proj.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(idx.size(1))
        x = self.wte(idx) + self.wpe(positions)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="UTF-8 text file")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument("--eval-iters", type=int, default=200)
    parser.add_argument("--beta2", type=float, default=0.99)
    parser.add_argument("--bias", action="store_true", help="biases in linear layers and layer norms")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    data = torch.tensor([index[ch] for ch in text], dtype=torch.long)
    cut = int(len(data) * 0.9)
    splits = {"train": data[:cut], "val": data[cut:]}
    block_size, batch_size = 64, 12

    def batch(split: str):
        source = splits[split]
        ix = torch.randint(len(source) - block_size, (batch_size,))
        x = torch.stack([source[i : i + block_size] for i in ix])
        y = torch.stack([source[i + 1 : i + 1 + block_size] for i in ix])
        return x, y

    model = Gpt(len(chars), block_size, 4, 4, 128, args.bias)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3,
        betas=(0.9, args.beta2),
    )
    warmup, max_lr, min_lr = 100, 1e-3, 1e-4

    def learning_rate(step: int) -> float:
        if step < warmup:
            return max_lr * (step + 1) / (warmup + 1)
        ratio = (step - warmup) / (args.steps - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)

    @torch.no_grad()
    def estimate() -> dict:
        model.eval()
        out = {}
        for split in ("train", "val"):
            out[split] = sum(model(*batch(split)).item() for _ in range(args.eval_iters)) / args.eval_iters
        model.train()
        return out

    evaluations = []
    start = time.time()
    for step in range(args.steps + 1):
        if step % args.eval_interval == 0 or step == args.steps:
            evaluations.append({"step": step, **estimate()})
        if step == args.steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        loss = model(*batch("train"))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    print(json.dumps({"seed": args.seed, "bias": args.bias, "seconds": time.time() - start,
                      "evaluations": evaluations}))


if __name__ == "__main__":
    main()
