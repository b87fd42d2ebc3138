"""The clinpaint model in PyTorch (docs/model.md): the networks, their
initialisation, the losses and one training iteration. Used by
tools/torch_reference.py; the loss weights LAMBDA_REC / LAMBDA_ADV are
module settings its --rec-weight / --adv-weight change."""

import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


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
