"""Timing the PyTorch reference: whole training iterations (--bench) and
per-op / per-layer profiles (--profile). Used by tools/torch_reference.py."""

import os
import statistics
import sys
import time

import torch
import torch.nn as nn

from torch_model import *  # noqa: F401,F403


def bench_models(preset, batch, seed=0):
    cfg = PRESETS[preset]
    torch.manual_seed(seed)
    G = Generator(cfg["S"], cfg["widths"], cfg["latent"])
    D = Discriminator(cfg["S"], cfg["widths"])
    glorot_init(G)
    glorot_init(D)
    x = torch.rand(batch, 3, cfg["S"], cfg["S"]) * 2 - 1
    m = center_mask(batch, cfg["S"])
    return G, D, x, m


def bench(preset, batch, iters, min_seconds, threads, warmup=3, tuned_runtime=None):
    torch.set_num_threads(threads)
    G, D, x, m = bench_models(preset, batch)
    optG, optD = make_opt(G), make_opt(D)
    for _ in range(warmup):
        train_iteration(G, D, optG, optD, x, m)
    times = []
    load0 = os.getloadavg()[0]
    cpu0 = time.process_time()
    t_start = time.perf_counter()
    # CPU time of the iteration: with 1 thread, torch runs every op on this
    # thread, so thread CPU time is the work itself even when other processes
    # share the cores; with more threads, process CPU time (includes OpenMP
    # spin-waiting).
    cpu_clock = time.thread_time if threads == 1 else time.process_time
    cpu_times = []
    while len(times) < iters or time.perf_counter() - t_start < min_seconds:
        c0 = cpu_clock()
        t0 = time.perf_counter()
        train_iteration(G, D, optG, optD, x, m)
        times.append(time.perf_counter() - t0)
        cpu_times.append(cpu_clock() - c0)
    # CPU seconds this process got per wall second (2.0 = both cores ours);
    # below `threads` means other processes took CPU time.
    cpu_per_wall = (time.process_time() - cpu0) / (time.perf_counter() - t_start)
    load1 = os.getloadavg()[0]
    med = statistics.median(times)
    res = {
        "preset": preset, "batch": batch, "iters": len(times), "threads": threads,
        "ms_per_iter_median": med * 1e3, "images_per_s_median": batch / med,
        "ms_per_iter_min": min(times) * 1e3,
        "min_seconds": min_seconds, "warmup": warmup, "ms_per_iter_mean": statistics.mean(times) * 1e3,
        "cpu_ms_per_iter_median": statistics.median(cpu_times) * 1e3,
        "images_per_cpu_s_median": batch / statistics.median(cpu_times),
        "cpu_per_wall": cpu_per_wall, "loadavg_1min": [load0, load1],
        "torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(),
        "blas": blas_library(), "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "tuned_runtime": tuned_runtime or {},
        "params_G": sum(p.numel() for p in G.parameters()),
        "params_D": sum(p.numel() for p in D.parameters()),
    }
    print("%s batch %d threads %d: %.1f ms/iter median (min %.1f, mean %.1f, n=%d), "
          "%.2f images/s; CPU %.1f ms/iter (%.2f images per CPU-s); cpu/wall %.2f, "
          "loadavg %.1f->%.1f"
          % (preset, batch, threads, res["ms_per_iter_median"], res["ms_per_iter_min"],
             res["ms_per_iter_mean"], len(times), res["images_per_s_median"],
             res["cpu_ms_per_iter_median"], res["images_per_cpu_s_median"], cpu_per_wall,
             load0, load1))
    sys.stdout.flush()
    return res


def profile(preset, batch, threads, iters=5):
    from torch.profiler import profile as tprof, ProfilerActivity
    torch.set_num_threads(threads)
    G, D, x, m = bench_models(preset, batch)
    optG, optD = make_opt(G), make_opt(D)
    for _ in range(3):
        train_iteration(G, D, optG, optD, x, m)
    clock = time.thread_time if threads == 1 else time.process_time
    c0, t0 = clock(), time.perf_counter()
    with tprof(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(iters):
            train_iteration(G, D, optG, optD, x, m)
    # The profiler reports wall time per op; with 1 thread, scale it by the
    # CPU share this thread got, so the numbers are CPU time (robust when
    # other processes share the machine).
    scale = (clock() - c0) / (time.perf_counter() - t0) if threads == 1 else 1.0
    ka = prof.key_averages()
    # group top-level aten ops into layer types (self CPU time, forward + backward)
    groups = {
        "conv3/conv2 fwd (aten::mkldnn_convolution/_convolution)": [
            "aten::mkldnn_convolution", "aten::thnn_conv2d", "aten::_slow_conv2d_forward"],
        "conv bwd (convolution_backward)": ["aten::convolution_backward",
                                            "aten::mkldnn_convolution_backward",
                                            "aten::_slow_conv2d_backward"],
        "up2 fwd (conv_transpose)": ["aten::slow_conv_transpose2d",
                                     "aten::mkldnn_convolution_transpose"],
        "maxpool fwd": ["aten::max_pool2d_with_indices"],
        "maxpool bwd": ["aten::max_pool2d_with_indices_backward"],
        "elu fwd": ["aten::elu"],
        "elu bwd": ["aten::elu_backward"],
        "tanh fwd+bwd": ["aten::tanh", "aten::tanh_backward"],
        "pad (conv2 same)": ["aten::constant_pad_nd"],
        "dense (addmm/mm)": ["aten::addmm", "aten::mm"],
        "adam (elementwise on params)": ["aten::addcmul_", "aten::addcdiv_", "aten::lerp_",
                                         "aten::sqrt", "aten::add_", "aten::mul_", "aten::div"],
    }
    self_us = {e.key: e.self_cpu_time_total * scale for e in ka}
    total = sum(self_us.values())
    lines = []
    accounted = 0
    for g, keys in groups.items():
        v = sum(self_us.get(k, 0) for k in keys)
        accounted += v
        lines.append((g, v))
    lines.append(("other", total - accounted))
    print("per-op-group self time, %s batch %d threads %d, per iteration "
          "(x%.2f CPU share):" % (preset, batch, threads, scale))
    for g, v in lines:
        print("  %-58s %9.1f ms  %5.1f%%" % (g, v / 1e3 / iters, 100 * v / max(total, 1)))
    print("  %-58s %9.1f ms" % ("total", total / 1e3 / iters))
    print(ka.table(sort_by="self_cpu_time_total", row_limit=25))
    sys.stdout.flush()

    per_module(G, D, x, m, clock=time.thread_time if threads == 1 else time.perf_counter)
    return lines


def per_module(G, D, x, m, reps=5, clock=time.perf_counter):
    """Times each conv/up2/dense layer fwd and bwd (input and weight
    gradients) in isolation on the activation it sees in the model; prints
    per layer and per layer type, weighting D's layers x3 per iteration (D
    runs on x and y in the D step and on y in the G step)."""
    acts = []

    def hook(name):
        def f(mod, inp, out):
            acts.append((name, mod, inp[0].detach()))
        return f
    hs = []
    for prefix, model in (("G", G), ("D", D)):
        for n, mod in model.named_modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                hs.append(mod.register_forward_hook(hook(prefix + "." + n)))
    with torch.no_grad():
        g = G(torch.cat([x * (1 - m), m], 1))
        D(g)
    for h in hs:
        h.remove()
    by_type = {}
    print("per-layer fwd / bwd, ms per call (median of %d, %s):" % (
        reps, "thread CPU time" if clock is time.thread_time else "wall"))
    for name, mod, a in acts:
        a = a.clone().requires_grad_(True)
        tf, tb = [], []
        for _ in range(reps + 1):
            go = torch.ones_like(mod(a))
            a.grad = None
            t0 = clock()
            out = mod(a)
            t1 = clock()
            out.backward(go)
            t2 = clock()
            tf.append(t1 - t0)
            tb.append(t2 - t1)
        f_ms, b_ms = statistics.median(tf[1:]) * 1e3, statistics.median(tb[1:]) * 1e3
        print("  %-26s in %-16s fwd %8.2f  bwd %8.2f" % (
            name, "x".join(map(str, a.shape)), f_ms, b_ms))
        kind = name.split(".")[-1]
        kind = {"dense1": "dense", "dense2": "dense", "head": "dense"}.get(kind, kind)
        w = 3 if name.startswith("D.") else 1
        t = by_type.setdefault(kind, [0.0, 0.0])
        t[0] += w * f_ms
        t[1] += w * b_ms
    print("per layer type, ms per training iteration (G x1, D x3 passes):")
    for k, (f_ms, b_ms) in by_type.items():
        print("  %-8s fwd %8.1f  bwd %8.1f  total %8.1f" % (k, f_ms, b_ms, f_ms + b_ms))
    return by_type
