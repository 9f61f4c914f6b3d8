#!/usr/bin/python3
"""Reference training runs in PyTorch for the optimizer and schedule parity tests.

Reads a JSON job from standard input:

    {"weights": PATH, "batches": PATH, "cases": [
        {"name": str, "steps": K, "lr": float, "clip": float,
         "optimizer": {"type": "sgd"|"adam"|"adamw", "momentum", "dampening", "nesterov",
                       "beta1", "beta2", "eps", "weightDecay"},
         "schedule": {"type": "constant"|"constant-with-warmup"|"linear-with-warmup"|
                      "cosine-with-warmup"|"step", "warmupSteps", "totalSteps", "numCycles",
                      "stepSize", "gamma"},
         "out": PATH}, ...]}

The weights file is a GPT-2 safetensors file with the config in ``__metadata__`` (see
gpt_reference.py); the batches file holds ``x`` and ``y`` as [K, B, T] integer tensors, batch k
being used at step k. Weight decay applies to parameters of two or more dimensions only (nanoGPT's
grouping). Each case writes its final parameters, named as the model's, to its ``out`` file.

The schedules are ``torch.optim.lr_scheduler.LambdaLR`` with the multipliers of Hugging Face
``transformers.optimization`` (get_constant_schedule, get_constant_schedule_with_warmup,
get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup), and ``StepLR`` for ``step``.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_reference  # noqa: E402
import st  # noqa: E402


def hugging_face_multiplier(schedule: dict):
    kind = schedule["type"]
    warmup = schedule.get("warmupSteps", 0)
    total = schedule.get("totalSteps", 0)
    if kind == "constant":
        return lambda step: 1.0
    if kind == "constant-with-warmup":
        return lambda step: step / max(1.0, warmup) if step < warmup else 1.0

    if kind == "linear-with-warmup":

        def linear(step: int) -> float:
            if step < warmup:
                return float(step) / float(max(1, warmup))
            return max(0.0, float(total - step) / float(max(1, total - warmup)))

        return linear
    if kind == "cosine-with-warmup":
        cycles = schedule.get("numCycles", 0.5)

        def cosine(step: int) -> float:
            if step < warmup:
                return float(step) / float(max(1, warmup))
            progress = float(step - warmup) / float(max(1, total - warmup))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress)))

        return cosine
    raise ValueError(f"unknown schedule type {kind!r}")


def make_optimizer(model: torch.nn.Module, config: dict, lr: float) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    weight_decay = config.get("weightDecay", 0.0)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kind = config["type"]
    if kind == "sgd":
        return torch.optim.SGD(
            groups,
            lr=lr,
            momentum=config.get("momentum", 0.0),
            dampening=config.get("dampening", 0.0),
            nesterov=config.get("nesterov", False),
        )
    betas = (config.get("beta1", 0.9), config.get("beta2", 0.999))
    eps = config.get("eps", 1e-8)
    if kind == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps)
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
    raise ValueError(f"unknown optimizer type {kind!r}")


def run_case(case: dict, weights: str, x: torch.Tensor, y: torch.Tensor) -> None:
    model = gpt_reference.load_weights(weights, None, torch.float32)
    optimizer = make_optimizer(model, case["optimizer"], case["lr"])
    schedule = case["schedule"]
    if schedule["type"] == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=schedule["stepSize"], gamma=schedule["gamma"])
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, hugging_face_multiplier(schedule))
    for k in range(case["steps"]):
        optimizer.zero_grad(set_to_none=True)
        loss = gpt_reference.lm_loss(model(x[k]), y[k])
        loss.backward()
        if case["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), case["clip"])
        optimizer.step()
        scheduler.step()
    st.save(case["out"], gpt_reference.parameters_to_numpy(model))


def main() -> None:
    job = json.loads(sys.stdin.read())
    torch.set_num_threads(1)
    tensors, _ = st.load(job["batches"])
    x = torch.from_numpy(tensors["x"].astype(np.int64))
    y = torch.from_numpy(tensors["y"].astype(np.int64))
    for case in job["cases"]:
        run_case(case, job["weights"], x, y)


if __name__ == "__main__":
    main()
