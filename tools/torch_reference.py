#!/usr/bin/env python3
"""PyTorch reference of the clinpaint model (see docs/model.md).

Not part of the C build or CI. The model is in tools/torch_model.py, fixtures and
the self-check in tools/torch_golden.py, timing in tools/torch_bench.py, the
detector in tools/torch_segmenter.py; this file is the command. It needs
PyTorch and NumPy; on Debian:

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
import os
import sys


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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_model as tm  # noqa: E402  (after the settings above: loads torch)
from torch_model import PRESETS  # noqa: E402
from torch_golden import make_golden, selfcheck, dump, write_safetensors, read_safetensors  # noqa: E402
from torch_bench import bench, profile  # noqa: E402


# --------------------------------------------------------------------------

def main():
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
    ap.add_argument("--rec-weight", type=float, default=tm.LAMBDA_REC, help="lambda_rec (0.999)")
    ap.add_argument("--adv-weight", type=float, default=tm.LAMBDA_ADV, help="lambda_adv (0.001)")
    a = ap.parse_args()
    tm.LAMBDA_REC, tm.LAMBDA_ADV = a.rec_weight, a.adv_weight

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
        from torch_segmenter import make_golden_detector
        make_golden_detector(a.golden_detector, write_safetensors, read_safetensors)
        did = True
    if a.bench:
        default_batch = {"tiny": 8, "small": 64, "base": 8}
        presets = a.preset or ["tiny", "small", "base"]
        results = []
        for p in presets:
            results.append(bench(p, a.batch or default_batch[p], a.iters, a.min_seconds,
                                 a.threads, tuned_runtime=TUNED_RUNTIME))
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
