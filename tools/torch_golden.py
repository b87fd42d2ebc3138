"""Golden fixtures, safetensors reading and writing, and the float64
finite-difference self-check of the PyTorch reference (docs/golden.md).
Used by tools/torch_reference.py."""

import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn  # noqa: F401
import torch.nn.functional as F

import torch_model as tm
from torch_model import *  # noqa: F401,F403


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
        "lambda_ctx": tm.LAMBDA_CTX, "lambda_rec": tm.LAMBDA_REC, "lambda_adv": tm.LAMBDA_ADV,
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
    np.testing.assert_allclose(back["loss.G"][0], tm.LAMBDA_REC * Lr + tm.LAMBDA_ADV * La, rtol=1e-6)
    M = back["input.mask"]
    np.testing.assert_allclose(back["out.y"], M * back["out.G"] + (1 - M) * back["input.x"],
                               rtol=0, atol=1e-7)
    # independent recomputation of the losses from the stored outputs
    X, Gh = back["input.x"].astype(np.float64), back["out.G"].astype(np.float64)
    W = M + tm.LAMBDA_CTX * (1 - M)
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
            return tm.LAMBDA_REC * rec_loss(gout, x, m) + tm.LAMBDA_ADV * softplus(-dg).mean()
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
