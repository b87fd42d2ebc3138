#!/usr/bin/env python3
"""PyTorch reference of the clinpaint model (see docs/model.md).

Not part of the C build or CI. It needs PyTorch and NumPy; on Debian:

    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-torch python3-numpy

Debian's packages install for /usr/bin/python3 (the `python3` on PATH may be a
pyenv interpreter without torch), so run it as

    /usr/bin/python3 tools/torch_reference.py --golden test/fixtures/golden_s32.safetensors
    /usr/bin/python3 tools/torch_reference.py --golden test/fixtures/golden_s32_bn.safetensors --batchnorm
    /usr/bin/python3 tools/torch_reference.py --golden test/fixtures/golden_s32_w11.safetensors \
        --rec-weight 1 --adv-weight 1
    /usr/bin/python3 tools/torch_reference.py --selfcheck
    /usr/bin/python3 tools/torch_reference.py --bench [--preset tiny|small|base] [--batch N]
                                              [--iters N] [--json FILE] [--threads 2]
    /usr/bin/python3 tools/torch_reference.py --profile [--preset base] [--batch 8]
    VENV/bin/python tools/torch_reference.py --bench --tuned ...   (PyTorch 2.x from PyPI)
    /usr/bin/python3 tools/torch_reference.py --dump FILE.safetensors
    /usr/bin/python3 tools/torch_reference.py --golden-detector test/fixtures/golden_detector_s16.safetensors

Modes:
  --golden OUT   [--batchnorm] [--batch N] [--rec-weight A --adv-weight B]
                 one training iteration at S=32, widths 4,8,8,8,8,8, L=16,
                 N=2, center mask, written as a safetensors fixture
                 (see docs/golden.md), then re-read and verified.
  --selfcheck    float64 finite-difference checks of the autograd set-up.
  --bench        images/s of full training iterations (G fwd, D step, G step).
  --tuned        with --bench/--profile: OMP_WAIT_POLICY=PASSIVE set before
                 torch loads and glibc malloc told to keep freed memory
                 (mallopt M_MMAP_MAX 0, M_TRIM_THRESHOLD 1 GiB).
  --profile      per-layer-type forward+backward time breakdown.
  --dump FILE    print the tensors of a safetensors file.
  --golden-detector OUT
                 one training step of the mask detector (tools/torch_segmenter.py:
                 S=16, widths 3,4,5, N=2, BCE + soft Dice, Adam lr 1e-3).
"""

import argparse
import json
import math
import os
import struct
import statistics
import sys
import time


def _early_blas_threads():
    """Debian's torch does its GEMMs for dense layers and ConvTranspose2d
    (aten::slow_conv_transpose2d) through the system libblas.so.3: the
    reference BLAS unless an optimised one (libopenblas0-pthread) is
    installed. OpenBLAS threads are not governed by torch.set_num_threads, so
    pin them to the same count before numpy/torch load it (golden and
    selfcheck: 1; bench/profile: --threads, default 2)."""
    n = "1"
    if "--bench" in sys.argv or "--profile" in sys.argv:
        n = "2"
        for i, a in enumerate(sys.argv):
            if a == "--threads" and i + 1 < len(sys.argv):
                n = sys.argv[i + 1]
            elif a.startswith("--threads="):
                n = a.split("=", 1)[1]
    os.environ.setdefault("OPENBLAS_NUM_THREADS", n)


_early_blas_threads()


def _early_tuned_runtime():
    """--tuned: the runtime settings a careful CPU user gives PyTorch, applied
    before torch loads. OMP_WAIT_POLICY=PASSIVE stops idle OpenMP threads
    spinning on the cores the next op needs; glibc's malloc is told never to
    hand big blocks back to the kernel (M_MMAP_MAX 0, M_TRIM_THRESHOLD 1 GiB),
    so freed activations are reused instead of page-faulted in again every
    iteration (worth 1.3-2.8x to PyTorch on a small VM). Returns what was set."""
    if "--tuned" not in sys.argv:
        return {}
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import ctypes
    import ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    ok_mmap = libc.mallopt(M_MMAP_MAX, 0) == 1
    ok_trim = libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
    return {"OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"],
            "mallopt_M_MMAP_MAX_0": ok_mmap, "mallopt_M_TRIM_THRESHOLD_1GiB": ok_trim}


TUNED_RUNTIME = _early_tuned_runtime()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

def blas_library():
    """Path of the libblas.so.3 this process loaded (Linux), or '?'."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "libblas" in line or "libopenblas" in line:
                    return os.path.realpath(line.split()[-1])
    except OSError:
        pass
    return "?"


PRESETS = {
    "tiny": dict(S=64, widths=(16, 32, 64, 64, 128, 128), latent=256),
    "small": dict(S=128, widths=(16, 32, 64, 128, 256, 256), latent=512),
    "base": dict(S=128, widths=(32, 64, 128, 256, 256, 256), latent=512),
}

LAMBDA_CTX = 0.1
LAMBDA_REC = 0.999
LAMBDA_ADV = 0.001
LR = 1e-4
BETAS = (0.5, 0.999)
ADAM_EPS = 1e-8
BN_EPS = 1e-5
BN_MOMENTUM = 0.1


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

class Conv2Same(nn.Conv2d):
    """2x2 conv, stride 1, Keras 'same': pad 0 top/left, 1 bottom/right."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout, kernel_size=2, stride=1, padding=0, bias=True)

    def forward(self, x):
        return super().forward(F.pad(x, (0, 1, 0, 1)))


def conv3(cin, cout):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=True)


def up2(cin, cout):
    return nn.ConvTranspose2d(cin, cout, kernel_size=2, stride=2, padding=0, bias=True)


def bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class Unit(nn.Module):
    """A unit: a list of (layer name, conv, has_bn, activation) steps, then
    an optional pool. Sub-module names follow MODEL.md: conv3, bn_conv3, conv2,
    bn_conv2, up2, bn_up2."""

    def __init__(self, steps, pool):
        super().__init__()
        self.order = []
        for name, layer, use_bn, act in steps:
            setattr(self, name, layer)
            if use_bn:
                setattr(self, "bn_" + name, bn(layer.out_channels))
            self.order.append((name, use_bn, act))
        self.pool = pool

    def forward(self, x):
        for name, use_bn, act in self.order:
            x = getattr(self, name)(x)
            if use_bn:
                x = getattr(self, "bn_" + name)(x)
            x = F.elu(x, alpha=1.0) if act == "elu" else torch.tanh(x)
        if self.pool:
            x = F.max_pool2d(x, 2)
        return x


def encoder_units(module, c0, widths, batchnorm, first_conv_bn):
    cprev = c0
    for i, w in enumerate(widths, start=1):
        steps = [
            ("conv3", conv3(cprev, w), batchnorm and (i > 1 or first_conv_bn), "elu"),
            ("conv2", Conv2Same(w, w), batchnorm, "elu"),
        ]
        setattr(module, "enc%d" % i, Unit(steps, pool=(i < 6)))
        cprev = w


class Bottleneck(nn.Module):
    def __init__(self, F_, L):
        super().__init__()
        self.dense1 = nn.Linear(F_, L)
        self.dense2 = nn.Linear(L, F_)

    def forward(self, x):
        shape = x.shape
        h = F.elu(self.dense1(x.flatten(1)))
        h = F.elu(self.dense2(h))
        return h.reshape(shape)


class Generator(nn.Module):
    def __init__(self, S, widths, latent, batchnorm=False):
        super().__init__()
        assert len(widths) == 6 and S % 32 == 0
        encoder_units(self, 4, widths, batchnorm, first_conv_bn=True)
        s = S // 32
        self.bottleneck = Bottleneck(widths[5] * s * s, latent)
        d = [widths[5]] + [widths[6 - j] for j in range(1, 7)]  # d_0..d_6
        for j in range(1, 6):
            steps = [
                ("conv3", conv3(d[j - 1], d[j]), batchnorm, "elu"),
                ("up2", up2(d[j], d[j]), batchnorm, "elu"),
            ]
            setattr(self, "dec%d" % j, Unit(steps, pool=False))
        steps = [
            ("conv3", conv3(d[5], d[6]), batchnorm, "elu"),
            ("conv2", Conv2Same(d[6], 3), False, "tanh"),
        ]
        self.dec6 = Unit(steps, pool=False)

    def forward(self, x):
        for i in range(1, 7):
            x = getattr(self, "enc%d" % i)(x)
        x = self.bottleneck(x)
        for j in range(1, 7):
            x = getattr(self, "dec%d" % j)(x)
        return x


class Discriminator(nn.Module):
    def __init__(self, S, widths, batchnorm=False):
        super().__init__()
        encoder_units(self, 3, widths, batchnorm, first_conv_bn=False)
        s = S // 32
        self.head = nn.Linear(widths[5] * s * s, 1)

    def forward(self, x):
        for i in range(1, 7):
            x = getattr(self, "enc%d" % i)(x)
        return self.head(x.flatten(1))


def glorot_init(model):
    """Keras defaults: Glorot-uniform weights, zero biases, bn gamma=1 beta=0,
    running mean 0 / var 1. fan = k*k*channels; for ConvTranspose2d (weight
    [C_in, C_out, k, k]) fan_in = k*k*C_in, fan_out = k*k*C_out."""
    for m in model.modules():
        if isinstance(m, nn.ConvTranspose2d):
            cin, cout, kh, kw = m.weight.shape
            fan_in, fan_out = kh * kw * cin, kh * kw * cout
        elif isinstance(m, nn.Conv2d):
            cout, cin, kh, kw = m.weight.shape
            fan_in, fan_out = kh * kw * cin, kh * kw * cout
        elif isinstance(m, nn.Linear):
            fan_out, fan_in = m.weight.shape
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_parameters()  # gamma 1, beta 0, mean 0, var 1
            continue
        else:
            continue
        a = math.sqrt(6.0 / (fan_in + fan_out))
        with torch.no_grad():
            m.weight.uniform_(-a, a)
            m.bias.zero_()


def named_state(model, prefix):
    """Parameters and bn running stats under MODEL.md names, in module order
    (num_batches_tracked is dropped)."""
    out = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        out[prefix + "." + k] = v
    return out


def named_params(model, prefix):
    return [(prefix + "." + k, p) for k, p in model.named_parameters()]


# --------------------------------------------------------------------------
# Losses and the training iteration
# --------------------------------------------------------------------------

def center_mask(N, S, dtype=torch.float32):
    m = torch.zeros(N, 1, S, S, dtype=dtype)
    m[:, :, S // 4:3 * S // 4, S // 4:3 * S // 4] = 1
    return m


def rec_loss(g, x, m):
    w = m + LAMBDA_CTX * (1 - m)
    return (w * (g - x) ** 2).mean()  # mean over N*3*S*S


def softplus(z):
    # F.softplus = log(1+exp(z)) (exact for z <= 20, z itself above); its
    # gradient is sigmoid(z). Same value as MODEL.md's stable form to < 3e-9.
    return F.softplus(z)


class DNoRunningStats:
    """Context: D's bn layers use batch statistics and leave their running
    statistics untouched (momentum 0 => running = 1*running + 0*batch)."""

    def __init__(self, D):
        self.bns = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)]

    def __enter__(self):
        self.saved = [(m.momentum, m.running_mean.clone(), m.running_var.clone(),
                       m.num_batches_tracked.clone()) for m in self.bns]
        for m in self.bns:
            m.momentum = 0.0
        return self

    def __exit__(self, *exc):
        for m, (mom, rm, rv, nbt) in zip(self.bns, self.saved):
            m.momentum = mom
            # momentum 0 keeps them bit-identical already; restore anyway
            # (num_batches_tracked would otherwise count the G-step pass).
            assert torch.equal(m.running_mean, rm) and torch.equal(m.running_var, rv)
            m.num_batches_tracked.copy_(nbt)
        return False


def train_iteration(G, D, optG, optD, x, m, record=None):
    """One iteration per MODEL.md. If record is a dict, fills it with the
    intermediate results (detached clones)."""
    G.train()
    D.train()
    # 1. G forward (its graph is kept for the G step; G is unchanged by the D step)
    g_in = torch.cat([x * (1 - m), m], dim=1)
    g_out = G(g_in)
    y = m * g_out + (1 - m) * x

    # 2. D step: two separate passes (x first, then y), y detached
    optD.zero_grad(set_to_none=False)
    d_real = D(x)
    d_fake = D(y.detach())
    loss_d = softplus(-d_real).mean() + softplus(d_fake).mean()
    loss_d.backward()
    if record is not None:
        record["grad.D"] = {n: p.grad.detach().clone() for n, p in named_params(D, "D")}
    optD.step()

    # 3. G step with the updated D; D's params get no update, its bn running
    #    stats are frozen for this pass.
    optG.zero_grad(set_to_none=False)
    for p in D.parameters():
        p.requires_grad_(False)
    with DNoRunningStats(D):
        d_fake_g = D(y)
    for p in D.parameters():
        p.requires_grad_(True)
    l_rec = rec_loss(g_out, x, m)
    l_adv = softplus(-d_fake_g).mean()
    loss_g = LAMBDA_REC * l_rec + LAMBDA_ADV * l_adv
    loss_g.backward()
    if record is not None:
        record["grad.G"] = {n: p.grad.detach().clone() for n, p in named_params(G, "G")}
    optG.step()

    if record is not None:
        record.update({
            "out.G": g_out.detach().clone(), "out.y": y.detach().clone(),
            "out.D_real": d_real.detach().clone(), "out.D_fake": d_fake.detach().clone(),
            "out.D_fake_gstep": d_fake_g.detach().clone(),
            "loss.rec": l_rec.detach().clone(), "loss.adv": l_adv.detach().clone(),
            "loss.G": loss_g.detach().clone(), "loss.D": loss_d.detach().clone(),
        })
    return loss_d.item(), loss_g.item()


def make_opt(model):
    return torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS,
                            weight_decay=0, amsgrad=False, foreach=False)


# --------------------------------------------------------------------------
# safetensors (own writer/reader: json + struct + numpy)
# --------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs = []
    off = 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(np.asarray(t, dtype="<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, "header not padded to 8"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    out = {}
    end_max = 0
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        s, e = info["data_offsets"]
        cnt = int(np.prod(info["shape"], dtype=np.int64))
        assert e - s == 4 * cnt, name
        out[name] = np.frombuffer(body[s:e], dtype="<f4").reshape(info["shape"])
        end_max = max(end_max, e)
    assert end_max == len(body), "trailing bytes"
    return out, meta


# --------------------------------------------------------------------------
# Golden fixture
# --------------------------------------------------------------------------

GOLDEN_CFG = dict(S=32, widths=(4, 8, 8, 8, 8, 8), latent=16, batch=2)


def golden_models(batchnorm, seed=1234, dtype=torch.float32, batch=None):
    cfg = dict(GOLDEN_CFG)
    if batch:
        cfg["batch"] = batch
    torch.manual_seed(seed)
    G = Generator(cfg["S"], cfg["widths"], cfg["latent"], batchnorm)
    D = Discriminator(cfg["S"], cfg["widths"], batchnorm)
    glorot_init(G)
    glorot_init(D)
    # For a sensitive test: nonzero biases, and (with bn) gamma/beta/running
    # stats away from their trivial initial values.
    gen = torch.Generator().manual_seed(seed + 1)
    for model in (G, D):
        for m in model.modules():
            with torch.no_grad():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                    m.bias.copy_(torch.rand(m.bias.shape, generator=gen) * 0.2 - 0.1)
                elif isinstance(m, nn.BatchNorm2d):
                    c = m.num_features
                    m.weight.copy_(1 + torch.rand(c, generator=gen) * 0.2 - 0.1)
                    m.bias.copy_(torch.rand(c, generator=gen) * 0.2 - 0.1)
                    m.running_mean.copy_(torch.rand(c, generator=gen) * 0.2 - 0.1)
                    m.running_var.copy_(1 + torch.rand(c, generator=gen) * 0.2 - 0.1)
    G.to(dtype)
    D.to(dtype)
    gen_x = torch.Generator().manual_seed(seed + 2)
    x = (torch.rand(cfg["batch"], 3, cfg["S"], cfg["S"], generator=gen_x) * 2 - 1).to(dtype)
    m = center_mask(cfg["batch"], cfg["S"], dtype)
    return G, D, x, m


def as_scalar(t):
    return t.reshape(1)  # scalars are stored with shape [1]


def golden_run(batchnorm, dtype, batch):
    """One iteration on the golden configuration; returns (tensors, param
    names by net). Tensors are detached, in fixture order."""
    G, D, x, m = golden_models(batchnorm, dtype=dtype, batch=batch)
    before = {}
    before.update(named_state(G, "G"))
    before.update(named_state(D, "D"))
    before = {k: v.detach().clone() for k, v in before.items()}
    optG, optD = make_opt(G), make_opt(D)
    rec = {}
    train_iteration(G, D, optG, optD, x, m, record=rec)

    t = dict(before)
    t["input.x"] = x
    t["input.mask"] = m
    for k in ("out.G", "out.y", "out.D_real", "out.D_fake", "out.D_fake_gstep"):
        t[k] = rec[k]
    for k in ("loss.rec", "loss.adv", "loss.G", "loss.D"):
        t[k] = as_scalar(rec[k])
    for n, g in rec["grad.D"].items():
        t["grad." + n] = g
    for n, g in rec["grad.G"].items():
        t["grad." + n] = g
    after = {}
    after.update(named_state(G, "G"))
    after.update(named_state(D, "D"))
    for k, v in after.items():
        t["after." + k] = v.detach().clone()
    names = {"G": [n for n, _ in named_params(G, "G")], "D": [n for n, _ in named_params(D, "D")]}
    for net, model, opt in (("G", G, optG), ("D", D, optD)):
        for n, p in named_params(model, net):
            st = opt.state[p]
            assert int(st["step"]) == 1
            t["opt.%s.m.%s" % (net, n)] = st["exp_avg"]
            t["opt.%s.v.%s" % (net, n)] = st["exp_avg_sq"]
    return {k: v.detach().cpu().numpy() for k, v in t.items()}, names


def rel_err(a, b):
    """max |a - b| / max |b| over the tensor (the fixture's error measure)."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def make_golden(path, batchnorm, batch=None):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    batch = batch or GOLDEN_CFG["batch"]
    t64, names = golden_run(batchnorm, torch.float64, batch)
    t32, _ = golden_run(batchnorm, torch.float32, batch)
    t = {k: v.astype(np.float32) for k, v in t32.items()}

    # Conditioning against a float64 run of the same iteration (same start
    # values). Parameters whose exact gradient is zero (a conv bias followed
    # by bn; a bn shift whose effect a later bn removes) get float32 rounding
    # noise as gradient; their m, v and after = p - lr*g/(|g|+eps) are then
    # noise too (|after - p| <= lr): listed in metadata `zero_grad`.
    zero_grad = []
    worst = {"out": 0.0, "loss": 0.0, "grad": 0.0, "after": 0.0, "opt": 0.0,
             "after_running": 0.0}
    for k in t:
        if k.startswith(("input.", "G.", "D.")):
            continue
        grp = k.split(".")[0]
        e = rel_err(t32[k], t64[k])
        pname = k.split(".", 1)[1] if grp in ("grad", "after") else None
        if grp == "opt":
            pname = k.split(".", 3)[3]
        if grp == "grad" and e > 1e-3:
            zero_grad.append(pname)
            continue
        if pname in zero_grad:
            continue
        if grp == "after" and "running_" in k:
            grp = "after_running"
        elif grp == "after":
            # absolute: parameters move by <= lr; measure in units of lr
            e = float(np.max(np.abs(t32[k].astype(np.float64) - t64[k]))) / LR
        worst[grp] = max(worst[grp], e)
    for n in zero_grad:
        assert np.max(np.abs(t64["grad." + n])) < 1e-12, n

    cfg = GOLDEN_CFG
    meta = {
        "format": "clinpaint golden fixture v1 (tools/torch_reference.py)",
        "S": cfg["S"], "widths": ",".join(map(str, cfg["widths"])),
        "latent": cfg["latent"], "batch": batch,
        "batchnorm": int(batchnorm), "mask": "center",
        "lambda_ctx": LAMBDA_CTX, "lambda_rec": LAMBDA_REC, "lambda_adv": LAMBDA_ADV,
        "lr": LR, "beta1": BETAS[0], "beta2": BETAS[1], "eps": ADAM_EPS,
        "bn_eps": BN_EPS, "bn_momentum": BN_MOMENTUM, "step": 1,
        "scalar_shape": "[1]", "seed": 1234,
        "init": "Glorot-uniform weights; biases U(-0.1,0.1); bn gamma 1+U(-0.1,0.1), "
                "beta U(-0.1,0.1), running_mean U(-0.1,0.1), running_var 1+U(-0.1,0.1)",
        "bn_passes": "D step: D(x) then D(y), each updates D running stats; "
                     "G step: D on y with batch stats, running stats frozen; "
                     "G: one forward per iteration (one running-stat update)",
        "zero_grad": ",".join(zero_grad),
        "f32_vs_f64_out": "%.2e" % worst["out"], "f32_vs_f64_loss": "%.2e" % worst["loss"],
        "f32_vs_f64_grad": "%.2e" % worst["grad"], "f32_vs_f64_opt": "%.2e" % worst["opt"],
        "f32_vs_f64_after_in_lr": "%.2e" % worst["after"],
        "f32_vs_f64_after_running": "%.2e" % worst["after_running"],
        "torch_version": torch.__version__, "numpy_version": np.__version__,
        "dtype": "float32", "threads": 1, "blas": blas_library(),
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_safetensors(path, t, meta)

    # re-read and verify
    back, meta2 = read_safetensors(path)
    assert list(back) == list(t), "name/order mismatch"
    for k in t:
        assert back[k].shape == t[k].shape and np.array_equal(back[k], t[k]), k
        assert np.all(np.isfinite(back[k])), "non-finite in " + k
    assert meta2["batchnorm"] == str(int(batchnorm))
    n_params = 0
    for net in ("G", "D"):
        for n in names[net]:
            n_params += 1
            for pre in ("", "grad.", "after.", "opt.%s.m." % net, "opt.%s.v." % net):
                assert back[pre + n].shape == back[n].shape, pre + n
            g = back["grad." + n].astype(np.float64)
            np.testing.assert_allclose(back["opt.%s.m.%s" % (net, n)], (1 - BETAS[0]) * g,
                                       rtol=1e-6, atol=1e-30)
            np.testing.assert_allclose(back["opt.%s.v.%s" % (net, n)], (1 - BETAS[1]) * g * g,
                                       rtol=1e-5, atol=1e-30)
            # after one step: p - lr * g / (|g| + eps)  (m_hat = g, v_hat = g^2)
            pred = back[n].astype(np.float64) - LR * g / (np.abs(g) + ADAM_EPS)
            np.testing.assert_allclose(back["after." + n], pred, rtol=0, atol=2e-7)
    Lr = back["loss.rec"][0]
    La = back["loss.adv"][0]
    np.testing.assert_allclose(back["loss.G"][0], LAMBDA_REC * Lr + LAMBDA_ADV * La, rtol=1e-6)
    M = back["input.mask"]
    np.testing.assert_allclose(back["out.y"], M * back["out.G"] + (1 - M) * back["input.x"],
                               rtol=0, atol=1e-7)
    # independent recomputation of the losses from the stored outputs
    X, Gh = back["input.x"].astype(np.float64), back["out.G"].astype(np.float64)
    W = M + LAMBDA_CTX * (1 - M)
    np.testing.assert_allclose(Lr, np.mean(W * (Gh - X) ** 2), rtol=1e-5)

    def sp(z):
        z = z.astype(np.float64)
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    np.testing.assert_allclose(La, np.mean(sp(-back["out.D_fake_gstep"])), rtol=1e-5)
    np.testing.assert_allclose(back["loss.D"][0], np.mean(sp(-back["out.D_real"])) +
                               np.mean(sp(back["out.D_fake"])), rtol=1e-5)
    size = os.path.getsize(path)
    print("wrote %s (%d bytes, %d tensors, %d parameters), re-read and verified OK"
          % (path, size, len(back), n_params))
    dump(path, back, meta2)
    assert size < 2 * 1024 * 1024
    return back


def dump(path, tensors=None, meta=None):
    if tensors is None:
        tensors, meta = read_safetensors(path)
    print("metadata:")
    for k, v in meta.items():
        print("  %s = %s" % (k, v))
    print("%-44s %-16s %12s %12s %12s" % ("name", "shape", "min", "max", "mean|.|"))
    for k, a in tensors.items():
        print("%-44s %-16s %12.5g %12.5g %12.5g" % (
            k, "x".join(map(str, a.shape)) or "[]", a.min(), a.max(), np.abs(a).mean()))


# --------------------------------------------------------------------------
# Self-check (float64 finite differences)
# --------------------------------------------------------------------------

def fd_check(fn, model, prefix, names, grads, nprobe=4, h=1e-5, seed=7):
    """Central differences of fn() wrt a few random entries of the named
    parameters; returns max |fd - autograd| / max|autograd| over the probes."""
    params = dict(named_params(model, prefix))
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    for n in names:
        p = params[n]
        scale = max(grads[n].abs().max().item(), 1e-30)
        for _ in range(nprobe):
            idx = int(torch.randint(p.numel(), (1,), generator=gen))
            with torch.no_grad():
                flat = p.view(-1)
                old = flat[idx].item()
                flat[idx] = old + h
                lp = fn().item()
                flat[idx] = old - h
                lm = fn().item()
                flat[idx] = old
            fd = (lp - lm) / (2 * h)
            worst = max(worst, abs(fd - grads[n].view(-1)[idx].item()) / scale)
    return worst


def selfcheck():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    ok = True

    def report(cond, text):
        nonlocal ok
        ok &= bool(cond)
        print("  [%s] %s" % ("ok" if cond else "FAIL", text))

    for batchnorm in (False, True):
        print("== selfcheck batchnorm=%d (float64)" % batchnorm)
        dt = torch.float64
        G, D, x, m = golden_models(batchnorm, dtype=dt)
        optG, optD = make_opt(G), make_opt(D)
        Dp0 = {n: p.detach().clone() for n, p in named_params(D, "D")}
        Drs0 = {k: v.clone() for k, v in named_state(D, "D").items() if "running" in k}
        after_dstep = {}
        orig_step = optD.step

        def step_hook(*a, **kw):
            r = orig_step(*a, **kw)
            after_dstep.update({k: v.clone() for k, v in named_state(D, "D").items()})
            return r
        optD.step = step_hook
        rec = {}
        train_iteration(G, D, optG, optD, x, m, rec)

        # (i) D parameters: exactly their D-step Adam update, nothing from the G step
        e = 0.0
        for n, p in named_params(D, "D"):
            g = rec["grad.D"][n]
            pred = Dp0[n] - LR * g / (g.abs() + ADAM_EPS)
            e = max(e, (p.detach() - pred).abs().max().item())
            e = max(e, (p.grad - g).abs().max().item())  # G step wrote no D grads
        report(e < 1e-15, "D params after iteration == D-step Adam update only; "
               "D .grad untouched by the G step (err %.1e)" % e)

        # (ii) bn running statistics
        if batchnorm:
            now = {k: v for k, v in named_state(D, "D").items() if "running" in k}
            same = all(torch.equal(now[k], after_dstep[k]) for k in now)
            changed = all(not torch.equal(now[k], Drs0[k]) for k in now)
            report(same and changed, "D running stats: changed by the D step, "
                   "not by the G step")
            G0, D0, _, _ = golden_models(batchnorm, dtype=dt)
            ins = {}
            hooks = []
            for n, mod in list(D0.named_modules()) + [("G." + k, v) for k, v in
                                                      G0.named_modules()]:
                if isinstance(mod, nn.BatchNorm2d):
                    key = n if n.startswith("G.") else "D." + n
                    hooks.append(mod.register_forward_hook(
                        lambda mod_, inp, out, key=key: ins.setdefault(key, []).append(
                            inp[0].detach().clone())))
            with torch.no_grad():
                gout = G0(torch.cat([x * (1 - m), m], 1))
                D0(x)
                D0(m * gout + (1 - m) * x)
            for h_ in hooks:
                h_.remove()
            G00, D00, _, _ = golden_models(batchnorm, dtype=dt)
            init = {}
            init.update(named_state(G00, "G"))
            init.update(named_state(D00, "D"))
            final = {}
            final.update(named_state(G, "G"))
            final.update(named_state(D, "D"))
            e = 0.0
            for key, zs in ins.items():
                rm, rv = init[key + ".running_mean"], init[key + ".running_var"]
                for z in zs:  # D: x pass then y pass; G: one pass
                    rm = (1 - BN_MOMENTUM) * rm + BN_MOMENTUM * z.mean(dim=(0, 2, 3))
                    rv = (1 - BN_MOMENTUM) * rv + BN_MOMENTUM * z.var(dim=(0, 2, 3),
                                                                      unbiased=True)
                e = max(e, (rm - final[key + ".running_mean"]).abs().max().item(),
                        (rv - final[key + ".running_var"]).abs().max().item())
            report(e < 1e-14 and len(ins) > 0,
                   "running stats == momentum formula, unbiased var; D: x pass then y "
                   "pass, G: one pass (%d bn layers, err %.1e)" % (len(ins), e))

        # (iii) L_D gradients, independent recomputation + finite differences
        G0, D0, _, _ = golden_models(batchnorm, dtype=dt)
        with torch.no_grad():
            gout = G0(torch.cat([x * (1 - m), m], 1))
            y0 = m * gout + (1 - m) * x

        def loss_D_fn():
            return softplus(-D0(x)).mean() + softplus(D0(y0)).mean()
        loss_D_fn().backward()
        gD = {n: p.grad.detach().clone() for n, p in named_params(D0, "D")}
        e = max((gD[n] - rec["grad.D"][n]).abs().max().item() for n in gD)
        report(e < 1e-15, "recorded grad.D == independent L_D gradients (err %.1e)" % e)
        dnames = ["D.enc1.conv3.weight", "D.enc1.conv3.bias", "D.enc3.conv2.weight",
                  "D.enc6.conv3.weight", "D.head.weight", "D.head.bias"]
        if batchnorm:
            dnames += ["D.enc2.bn_conv3.weight", "D.enc4.bn_conv2.bias"]
        else:
            dnames += ["D.enc6.conv2.bias"]
        w = fd_check(loss_D_fn, D0, "D", dnames, gD)
        report(w < 2e-5, "finite differences vs autograd, L_D wrt %d D tensors "
               "(max err / max|grad| %.1e)" % (len(dnames), w))

        # (iv) L_G gradients with the UPDATED D (D fixed, batch stats, no running update)
        G1, D1, _, _ = golden_models(batchnorm, dtype=dt)
        with torch.no_grad():
            for (n, p), (_, q) in zip(named_params(D1, "D"), named_params(D, "D")):
                p.copy_(q)

        def loss_G_fn(Gm=G1, Dm=D1):
            gout = Gm(torch.cat([x * (1 - m), m], 1))
            yy = m * gout + (1 - m) * x
            with DNoRunningStats(Dm):
                dg = Dm(yy)
            return LAMBDA_REC * rec_loss(gout, x, m) + LAMBDA_ADV * softplus(-dg).mean()
        loss_G_fn().backward()
        gG = {n: p.grad.detach().clone() for n, p in named_params(G1, "G")}
        e = max((gG[n] - rec["grad.G"][n]).abs().max().item() for n in gG)
        report(e < 1e-15, "recorded grad.G == L_G gradients through the updated D "
               "(err %.1e)" % e)
        G2, D2, _, _ = golden_models(batchnorm, dtype=dt)
        loss_G_fn(G2, D2).backward()
        diff = max((p.grad - gG[n]).abs().max().item() / max(gG[n].abs().max().item(), 1e-30)
                   for n, p in named_params(G2, "G") if gG[n].abs().max() > 1e-12)
        report(diff > 1e-6, "grad.G with the NOT updated D differs (max rel %.1e): "
               "the D-then-G order is visible in the fixture" % diff)
        gnames = ["G.enc1.conv3.weight", "G.enc4.conv2.weight", "G.bottleneck.dense1.weight",
                  "G.bottleneck.dense2.bias", "G.dec2.up2.weight", "G.dec2.up2.bias" if not
                  batchnorm else "G.dec2.bn_up2.bias", "G.dec6.conv2.weight",
                  "G.dec6.conv2.bias"]
        if batchnorm:
            gnames += ["G.dec3.bn_up2.weight", "G.enc2.bn_conv2.bias"]
        w = fd_check(loss_G_fn, G1, "G", gnames, gG)
        report(w < 2e-5, "finite differences vs autograd, L_G wrt %d G tensors "
               "(max err / max|grad| %.1e)" % (len(gnames), w))

    # conv2 'same' padding and pool tie rule sanity
    c = Conv2Same(1, 1)
    with torch.no_grad():
        c.weight.fill_(1)
        c.bias.zero_()
        z = c(torch.ones(1, 1, 3, 3))
    exp = torch.tensor([[4., 4., 2.], [4., 4., 2.], [2., 2., 1.]])
    print("== layers")
    report(torch.equal(z[0, 0], exp), "conv2 'same' pads 0 top/left, 1 bottom/right")
    t = torch.ones(1, 1, 2, 2, requires_grad=True)
    F.max_pool2d(t, 2).sum().backward()
    tie = torch.equal(t.grad[0, 0], torch.tensor([[1., 0.], [0., 0.]]))
    report(tie, "max-pool tie: gradient to the first maximum in row-major order")
    print("SELFCHECK", "PASSED" if ok else "FAILED")
    return ok


# --------------------------------------------------------------------------
# Benchmark and profile
# --------------------------------------------------------------------------

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


def bench(preset, batch, iters, min_seconds, threads, warmup=3):
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
        "tuned_runtime": TUNED_RUNTIME,
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


# --------------------------------------------------------------------------

def main():
    global LAMBDA_REC, LAMBDA_ADV
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--golden", metavar="OUT")
    ap.add_argument("--batchnorm", action="store_true")
    ap.add_argument("--selfcheck", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--dump", metavar="FILE")
    ap.add_argument("--golden-detector", metavar="OUT")
    ap.add_argument("--preset", choices=list(PRESETS), action="append")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--min-seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--tuned", action="store_true",
                    help="OMP_WAIT_POLICY=PASSIVE and glibc malloc kept (bench/profile)")
    ap.add_argument("--rec-weight", type=float, default=LAMBDA_REC, help="lambda_rec (0.999)")
    ap.add_argument("--adv-weight", type=float, default=LAMBDA_ADV, help="lambda_adv (0.001)")
    a = ap.parse_args()
    LAMBDA_REC, LAMBDA_ADV = a.rec_weight, a.adv_weight

    did = False
    if a.golden:
        make_golden(a.golden, a.batchnorm, a.batch)
        did = True
    if a.selfcheck:
        if not selfcheck():
            sys.exit(1)
        did = True
    if a.dump:
        dump(a.dump)
        did = True
    if a.golden_detector:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from torch_segmenter import make_golden_detector
        make_golden_detector(a.golden_detector, write_safetensors, read_safetensors)
        did = True
    if a.bench:
        default_batch = {"tiny": 8, "small": 64, "base": 8}
        presets = a.preset or ["tiny", "small", "base"]
        results = []
        for p in presets:
            results.append(bench(p, a.batch or default_batch[p], a.iters, a.min_seconds,
                                 a.threads))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(results, f, indent=2)
        did = True
    if a.profile:
        profile((a.preset or ["base"])[0], a.batch or 8, a.threads)
        did = True
    if not did:
        ap.print_help()


if __name__ == "__main__":
    main()
