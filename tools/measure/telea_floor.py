#!/usr/bin/env python3
"""OpenCV's Telea inpainting as a floor beside `clinpaint eval`'s own.

`clinpaint eval --dump DIR` writes every image it evaluated (after any
re-framing), its mask (white = hole) and the model's composite. This script
fills each hole with cv2.inpaint(..., INPAINT_TELEA) and scores it with
MODEL.md's metrics (the composite against the image, [0, 255], per image,
then averaged; MSE floored at 1e-10): hole PSNR, whole-image PSNR, hole L1.
It scores the dumped composites the same way, as a check that the files
reproduce eval's own numbers (PNG rounds the composite to 8 bits, so expect
agreement to about 0.01 dB).

    clinpaint eval --model M --data D --mask face --framing zoom=0.8 --dump /tmp/d
    python3 tools/measure/telea_floor.py /tmp/d [--radius 3] [--json]

Needs numpy and OpenCV (pip install opencv-python-headless, or Debian's
python3-opencv).
"""
import argparse
import json
import math
import os
import re
import sys

try:
    import cv2
    import numpy as np
except ImportError as e:  # a clear message, not a traceback
    sys.exit(f"telea_floor: {e}: pip install numpy opencv-python-headless (or apt install python3-opencv)")


def scores(fill, image, hole):
    d = fill.astype(np.float64) - image.astype(np.float64)
    se = d * d
    whole = max(se.mean(), 1e-10)
    hole_se = se[hole]
    hole_mse = max(hole_se.mean(), 1e-10) if hole_se.size else 1e-10
    hole_l1 = float(np.abs(d[hole]).mean()) if hole_se.size else 0.0
    return (10 * math.log10(255.0 ** 2 / hole_mse), 10 * math.log10(255.0 ** 2 / whole), hole_l1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="a folder written by clinpaint eval --dump")
    ap.add_argument("--radius", type=float, default=3.0, help="Telea's neighbourhood radius (3)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    a = ap.parse_args()
    if not os.path.isdir(a.dir):
        sys.exit(f"telea_floor: {a.dir} is not a folder (write one with clinpaint eval --dump)")
    ids = sorted(m.group(1) for m in (re.fullmatch(r"(\d+)_image\.png", f) for f in os.listdir(a.dir)) if m)
    if not ids:
        sys.exit(f"telea_floor: no NNNNN_image.png in {a.dir} (write them with clinpaint eval --dump)")
    sums = {"telea": [0.0, 0.0, 0.0], "model": [0.0, 0.0, 0.0]}
    for i in ids:
        paths = [os.path.join(a.dir, f"{i}_{w}.png") for w in ("image", "mask", "model")]
        image, mask, model = (cv2.imread(p, cv2.IMREAD_COLOR) for p in paths)
        if image is None or mask is None or model is None or not (image.shape == mask.shape == model.shape):
            sys.exit(f"telea_floor: {i}: image, mask and model files missing, unreadable or of different sizes")
        hole = mask[:, :, 0] > 127
        known = image.copy()
        known[hole] = 0  # Telea must not see the hole's pixels
        telea = cv2.inpaint(known, hole.astype(np.uint8) * 255, a.radius, cv2.INPAINT_TELEA)
        telea[~hole] = image[~hole]
        for name, fill in (("telea", telea), ("model", model)):
            s = scores(fill, image, np.repeat(hole[:, :, None], 3, axis=2))
            for k in range(3):
                sums[name][k] += s[k]
    n = len(ids)
    out = {"images": n, "radius": a.radius}
    for name, s in sums.items():
        out[name] = {"hole_psnr": s[0] / n, "psnr": s[1] / n, "hole_l1": s[2] / n}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{n} images from {a.dir}")
        print(f"{'':24}{'hole PSNR':>10}{'PSNR':>8}{'hole L1':>9}")
        for name, label in (("model", "model (dumped composite)"), ("telea", f"Telea (radius {a.radius:g})")):
            m = out[name]
            print(f"{label:24}{m['hole_psnr']:10.2f}{m['psnr']:8.2f}{m['hole_l1']:9.2f}")


if __name__ == "__main__":
    main()
