"""PyTorch reference of clinpaint's mask detector (include/clinpaint/detector.h),
used by tools/torch_reference.py --golden-detector OUT.

The network is cp_detector_layers' U-Net: encoder levels of conv3 -> conv2
(ELU after each; the output kept for a skip, then a 2x2 max pool, except at
the bottom), decoder levels of up2 (ELU, then the kept skip concatenated
after it) -> conv3 (ELU), and a conv3 head to one logit per pixel. Loss:
mean per-pixel BCE on the logits + dice_weight * (1 - mean over images of
(2 sum p t + 1) / (sum p + sum t + 1)), p = sigmoid(logits). Adam.
"""

import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DETECTOR_CFG = dict(size=16, widths=(3, 4, 5), batch=2)
DICE_WEIGHT = 1.0
DICE_EPS = 1.0
LR = 1e-3
BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class Conv2Same(nn.Conv2d):
    """2x2 conv, stride 1: pad 0 top/left, 1 bottom/right."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout, kernel_size=2, stride=1, padding=0, bias=True)

    def forward(self, x):
        return super().forward(F.pad(x, (0, 1, 0, 1)))


class Detector(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.levels = len(widths)
        self.layers = nn.ModuleDict()  # keys: "enc1.conv3" (dots not allowed: '/')
        self.order = []
        cprev = 3
        for i, w in enumerate(widths, start=1):
            self._add("enc%d.conv3" % i, nn.Conv2d(cprev, w, 3, 1, 1), "elu", False, False)
            last = i == self.levels
            self._add("enc%d.conv2" % i, Conv2Same(w, w), "elu", not last, not last)
            cprev = w
        for j in range(self.levels - 1, 0, -1):
            w = widths[j - 1]
            self._add("dec%d.up2" % j, nn.ConvTranspose2d(cprev, w, 2, 2, 0), "elu", False, False,
                      concat=True)
            self._add("dec%d.conv3" % j, nn.Conv2d(2 * w, w, 3, 1, 1), "elu", False, False)
            cprev = w
        self._add("head.conv3", nn.Conv2d(cprev, 1, 3, 1, 1), None, False, False)

    def _add(self, name, layer, act, save, pool, concat=False):
        self.layers[name.replace(".", "/")] = layer
        self.order.append((name, act, save, pool, concat))

    def forward(self, x):
        skips = []
        for name, act, save, pool, concat in self.order:
            x = self.layers[name.replace(".", "/")](x)
            if act == "elu":
                x = F.elu(x, alpha=1.0)
            if save:
                skips.append(x)
            if pool:
                x = F.max_pool2d(x, 2)
            if concat:
                x = torch.cat([x, skips.pop()], 1)
        return x

    def named(self):
        """(clinpaint name, parameter) in checkpoint order."""
        out = []
        for name, *_ in self.order:
            layer = self.layers[name.replace(".", "/")]
            out.append(("detector.%s.weight" % name, layer.weight))
            out.append(("detector.%s.bias" % name, layer.bias))
        return out


def loss_bce_dice(z, t, dice_weight=DICE_WEIGHT):
    p = torch.sigmoid(z)
    bce = (F.softplus(z) - z * t).mean()
    inter = (p * t).sum(dim=(1, 2, 3))
    s = p.sum(dim=(1, 2, 3)) + t.sum(dim=(1, 2, 3))
    dice = (2 * inter + DICE_EPS) / (s + DICE_EPS)
    return bce + dice_weight * (1 - dice.mean())


def golden_inputs(cfg, dtype, seed):
    """x in U(-1, 1); image 0 has a rectangle of mask (and brighter pixels
    there), image 1 no mask at all (the empty-target case)."""
    N, S = cfg["batch"], cfg["size"]
    gen = torch.Generator().manual_seed(seed + 2)
    x = torch.rand(N, 3, S, S, generator=gen) * 2 - 1
    t = torch.zeros(N, 1, S, S)
    t[0, 0, 9:15, 3:13] = 1
    x = x * (1 - 0.5 * t) + 0.5 * t
    return x.to(dtype), t.to(dtype)


def golden_run(dtype, seed=4321):
    cfg = DETECTOR_CFG
    torch.manual_seed(seed)
    net = Detector(cfg["widths"])
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in net.named():
            if name.endswith(".weight"):
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                fan_out = p.shape[0] * p.shape[2] * p.shape[3]
                a = (6.0 / (fan_in + fan_out)) ** 0.5
                p.copy_(torch.rand(p.shape, generator=gen) * 2 * a - a)
            else:
                p.copy_(torch.rand(p.shape, generator=gen) * 0.2 - 0.1)
    net.to(dtype)
    x, t = golden_inputs(cfg, dtype, seed)
    before = {n: p.detach().clone() for n, p in net.named()}
    opt = torch.optim.Adam([p for _, p in net.named()], lr=LR, betas=BETAS, eps=ADAM_EPS,
                           weight_decay=0, amsgrad=False, foreach=False)
    opt.zero_grad()
    z = net(x)
    loss = loss_bce_dice(z, t)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in net.named()}
    opt.step()
    out = dict(before)
    out["input.x"] = x
    out["input.mask"] = t
    out["out.logits"] = z.detach()
    out["loss"] = loss.detach().reshape(1)
    for n, g in grads.items():
        out["grad." + n] = g
    for n, p in net.named():
        out["after." + n] = p.detach().clone()
    for n, p in net.named():
        st = opt.state[p]
        out["opt.detector.m." + n] = st["exp_avg"]
        out["opt.detector.v." + n] = st["exp_avg_sq"]
    return {k: v.detach().cpu().numpy() for k, v in out.items()}


def make_golden_detector(path, write_safetensors, read_safetensors):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    t64 = golden_run(torch.float64)
    t32 = golden_run(torch.float32)
    t = {k: v.astype(np.float32) for k, v in t32.items()}
    worst = {}
    for k in t:
        grp = k.split(".")[0]
        if grp in ("input", "detector"):
            continue
        d = np.max(np.abs(t32[k].astype(np.float64) - t64[k]))
        e = float(d / max(np.max(np.abs(t64[k])), 1e-30))
        if grp == "after":
            e = float(d) / LR  # parameters move by <= lr: in units of lr
        worst[grp] = max(worst.get(grp, 0.0), e)
    cfg = DETECTOR_CFG
    meta = {
        "format": "clinpaint detector golden fixture v1 (tools/torch_segmenter.py)",
        "size": cfg["size"], "levels": len(cfg["widths"]),
        "widths": ",".join(map(str, cfg["widths"])), "batch": cfg["batch"],
        "dice_weight": DICE_WEIGHT, "dice_eps": DICE_EPS, "lr": LR, "beta1": BETAS[0],
        "beta2": BETAS[1], "eps": ADAM_EPS, "step": 1, "seed": 4321,
        "init": "Glorot-uniform weights, biases U(-0.1,0.1)",
        "inputs": "x U(-1,1); image 0: mask rows 9..14, cols 3..12 (x there 0.5 + x/2); "
                  "image 1: no mask",
        "torch_version": torch.__version__, "numpy_version": np.__version__,
        "dtype": "float32", "threads": 1,
    }
    for grp, e in worst.items():
        meta["f32_vs_f64_" + grp] = "%.2e" % e
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_safetensors(path, t, meta)
    back, _ = read_safetensors(path)
    assert list(back) == list(t)
    for k in t:
        assert np.array_equal(back[k], t[k]) and np.all(np.isfinite(back[k])), k
    # Adam after one step: m = (1-b1) g, v = (1-b2) g^2, p - lr g / (|g| + eps).
    names = [k[len("grad."):] for k in back if k.startswith("grad.")]
    for n in names:
        g = back["grad." + n].astype(np.float64)
        np.testing.assert_allclose(back["opt.detector.m." + n], (1 - BETAS[0]) * g, rtol=1e-6, atol=1e-30)
        pred = back[n].astype(np.float64) - LR * g / (np.abs(g) + ADAM_EPS)
        np.testing.assert_allclose(back["after." + n], pred, rtol=0, atol=2e-6)
    print("wrote %s (%d bytes, %d tensors, %d parameters); float32 vs float64: %s"
          % (path, os.path.getsize(path), len(back), len(names),
             ", ".join("%s %s" % (k, v) for k, v in meta.items() if k.startswith("f32"))))
    return back
