#!/usr/bin/python3
"""Measure PyTorch CPU training throughput of the GPT-2 reference model.

The model is tests/python/gpt_reference.py (Hugging Face GPT-2 math). It is
trained with AdamW (lr 1e-3, betas (0.9, 0.95), eps 1e-8) with weight decay 0.1
on tensors of 2 or more dimensions and gradient clipping at global norm 1.0.
Batches are random windows of a token array, sampled as nanoGPT's
``get_batch`` samples them.

Prints one JSON line with these keys:

    tokensPerSecond, stepsTimed, secondsPerStep, cpuSecondsPerStep, peakRssMiB,
    torch, threads, blasThreads, rssAfterImportMiB, loadAverage1m, blas,
    matmulGflops, config, firstLoss, lastLoss

``tokensPerSecond`` is batch_size * block_size * stepsTimed divided by the
summed wall time of the timed steps. A timed step is zero_grad, forward, loss,
backward, clipping and the optimizer update, and batches are sampled before
the timing starts. ``cpuSecondsPerStep`` is the process CPU time of a timed
step, which includes threads that spin while they wait. ``peakRssMiB`` is the
process's peak resident set size (getrusage ru_maxrss), so it includes the
Python interpreter, torch itself (``rssAfterImportMiB``) and the matmul probe.
``matmulGflops`` is the best rate of a 1024x1024 float32 matmul over 10
repetitions with the same thread count. ``loadAverage1m`` is the system load
when the script started, because other processes on the machine skew the
timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Measure PyTorch CPU training throughput of the GPT-2 reference model.")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--tokens", help="file of token ids as raw little-endian int32")
    data.add_argument("--random-tokens", type=int, help="use this many uniform random token ids instead of --tokens")
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--block-size", type=int, default=64, help="context length T of every training window")
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--vocab-size", type=int, default=65)
    parser.add_argument("--steps", type=int, default=50, help="timed training steps (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps run before the timed ones (default 5)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="intra-op threads (default: CPU count)")
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="OpenBLAS threads (default: $OPENBLAS_NUM_THREADS if set, else --threads)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for weights, random tokens and windows")
    args = parser.parse_args()
    if args.tokens is None and args.random_tokens is None:
        args.random_tokens = 100_000
    if args.steps <= 0 or args.warmup < 0 or args.threads <= 0:
        parser.error("--steps and --threads must be positive and --warmup must not be negative")
    return args


def limit_native_threads(threads: int, blas_threads: int | None) -> int:
    """Size the OpenMP and OpenBLAS pools before torch loads them, and return the OpenBLAS thread count.

    torch.set_num_threads sets the OpenMP pool, but OpenBLAS's pthread build,
    which Debian's torch calls through libblas.so.3, has its own pool that it
    sizes from OPENBLAS_NUM_THREADS when the library loads.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    if blas_threads is None:
        blas_threads = int(os.environ.get("OPENBLAS_NUM_THREADS", threads))
    os.environ["OPENBLAS_NUM_THREADS"] = str(blas_threads)
    return blas_threads


def current_rss_mib() -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass  # Only Linux has /proc/self/status.
    return None


def describe_blas(torch_module) -> dict:
    """Report the BLAS that torch was built for and the BLAS library actually mapped into this process."""
    settings = dict(re.findall(r"(\w+)=([^,\n]*)", torch_module.__config__.show()))
    build = {key: settings[key].strip() for key in ("BLAS_INFO", "LAPACK_INFO", "USE_MKLDNN", "USE_OPENMP") if key in settings}
    loaded = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                base = os.path.basename(path).lower()
                if path.startswith("/") and any(word in base for word in ("blas", "mkl_", "libmkl")):
                    loaded.add(os.path.realpath(path))
    except OSError:
        pass  # Non-Linux systems have no /proc/self/maps, so only the build settings are reported.
    return {
        "build": build,
        "loadedLibraries": sorted(loaded),
        "mklAvailable": torch_module.backends.mkl.is_available(),
        "mkldnnAvailable": torch_module.backends.mkldnn.is_available(),
    }


def measure_matmul_gflops(torch_module, size: int = 1024, repeats: int = 10) -> float:
    a = torch_module.randn(size, size)
    b = torch_module.randn(size, size)
    torch_module.matmul(a, b)  # The first call starts the thread pools.
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch_module.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def main() -> None:
    args = parse_args()
    blas_threads = limit_native_threads(args.threads, args.blas_threads)
    load_average = os.getloadavg()

    import numpy as np
    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from gpt_reference import GPT, GPTConfig, init_gpt2_weights, lm_loss

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)
    rss_after_import = current_rss_mib()

    config = GPTConfig(
        n_layer=args.n_layer,
        n_head=args.n_head,
        n_embd=args.n_embd,
        block_size=args.block_size,
        vocab_size=args.vocab_size,
    )
    if args.tokens is not None:
        tokens = torch.from_numpy(np.fromfile(args.tokens, dtype="<i4").astype(np.int64))
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= config.vocab_size):
            raise SystemExit(f"error: {args.tokens} has token ids outside [0, {config.vocab_size}); set --vocab-size")
    else:
        tokens = torch.randint(0, config.vocab_size, (args.random_tokens,))
    if tokens.numel() <= config.block_size:
        raise SystemExit(f"error: {tokens.numel()} tokens are too few for windows of {config.block_size} + 1")

    total_steps = args.warmup + args.steps
    starts = torch.randint(0, tokens.numel() - config.block_size, (total_steps, args.batch_size))
    offsets = torch.arange(config.block_size + 1)
    windows = tokens[starts.unsqueeze(-1) + offsets]  # [steps, B, T + 1]
    inputs, targets = windows[..., :-1].contiguous(), windows[..., 1:].contiguous()

    model = GPT(config)
    init_gpt2_weights(model, seed=args.seed, perturb=False)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3,
        betas=(0.9, 0.95),
        eps=1e-8,
    )

    timed_seconds = 0.0
    timed_cpu_seconds = 0.0
    losses = []
    for step in range(total_steps):
        start = time.perf_counter()
        cpu_start = time.process_time()
        optimizer.zero_grad(set_to_none=True)
        loss = lm_loss(model(inputs[step]), targets[step])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        elapsed = time.perf_counter() - start
        if step >= args.warmup:
            timed_seconds += elapsed
            timed_cpu_seconds += time.process_time() - cpu_start
        losses.append(loss.item())

    matmul_gflops = measure_matmul_gflops(torch)
    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tokens_per_step = args.batch_size * config.block_size
    result = {
        "tokensPerSecond": round(tokens_per_step * args.steps / timed_seconds, 1),
        "stepsTimed": args.steps,
        "secondsPerStep": round(timed_seconds / args.steps, 6),
        "cpuSecondsPerStep": round(timed_cpu_seconds / args.steps, 6),
        "peakRssMiB": round(peak_rss_kib / 1024, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blasThreads": blas_threads,
        "rssAfterImportMiB": rss_after_import,
        "loadAverage1m": round(load_average[0], 2),
        "blas": describe_blas(torch),
        "matmulGflops": round(matmul_gflops, 2),
        "config": dict(config.to_dict(), batch_size=args.batch_size, parameters=sum(p.numel() for p in model.parameters())),
        "firstLoss": round(losses[0], 4),
        "lastLoss": round(losses[-1], 4),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
