#!/usr/bin/env bash
# clinpaint against PyTorch on this machine, the issue's three settings, in
# one run with alternating rounds: each round runs every setting, PyTorch
# first then clinpaint; medians of whole training iterations per round, and
# at the end each side's median over rounds and the range of the per-round
# ratios (notes/bench.md).
#   cmake --build build && tools/measure/torch_venv.sh && tools/measure/compare_torch.sh
# PyTorch 2.x runs from .venv-torch (TORCH_PYTHON overrides) with --tuned
# (OMP_WAIT_POLICY=PASSIVE, glibc malloc kept: tools/torch_reference.py).
# When /usr/bin/python3 has Debian's torch, it runs too, stock, for reference.
# ROUNDS (default 3), THREADS (2), SETTINGS ("preset batch iterations"
# triples separated by commas) override; OUT=FILE keeps the raw lines.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
IFS=',' read -r -a settings <<< "${SETTINGS:-tiny 8 12,base 8 6,small 64 3}"
rounds=${ROUNDS:-3}
threads=${THREADS:-2}
torch_py=${TORCH_PYTHON:-$root/.venv-torch/bin/python}
[ -x "$torch_py" ] || { echo "compare_torch: no PyTorch at $torch_py (run tools/measure/torch_venv.sh)" >&2; exit 2; }
[ -x build/iteration_time ] || { echo "compare_torch: build first (cmake --build build)" >&2; exit 2; }
debian=""
/usr/bin/python3 -c 'import torch' 2>/dev/null && debian=/usr/bin/python3
raw=${OUT:-$(mktemp)}
: > "$raw"
echo "PyTorch $("$torch_py" -c 'import torch; print(torch.__version__)') --tuned, $threads threads; clinpaint $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $rounds rounds"
for ((r = 1; r <= rounds; r++)); do
    for s in "${settings[@]}"; do
        read -r preset batch iters <<< "$s"
        echo "== round $r: $preset batch $batch, load $(cut -d' ' -f1-3 /proc/loadavg)"
        t=$("$torch_py" tools/torch_reference.py --bench --tuned --preset "$preset" --batch "$batch" \
            --threads "$threads" --iters "$iters" --min-seconds 1 2>&1 | tail -1)
        echo "  torch:     $t"
        tm=$(sed -n 's/.*: \([0-9.]*\) ms\/iter median.*/\1/p' <<< "$t")
        if [ -n "$debian" ]; then
            d=$("$debian" tools/torch_reference.py --bench --preset "$preset" --batch "$batch" \
                --threads "$threads" --iters "$iters" --min-seconds 1 2>&1 | tail -1)
            echo "  debian:    $d"
        fi
        c=$(OMP_NUM_THREADS="$threads" build/iteration_time "$preset" "$batch" "$iters" 2>&1 | tail -1)
        echo "  clinpaint: $c"
        cm=$(grep -o '[0-9.]* ms' <<< "$c" | head -1 | cut -d' ' -f1)
        echo "$preset $batch $r ${tm:-nan} ${cm:-nan}" >> "$raw"
    done
done
echo "== summary: median ms per iteration over rounds; ratio = PyTorch / clinpaint (above 1: clinpaint faster)"
python3 - "$raw" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for p, b, r, t, c in rows:
    by.setdefault((p, b), []).append((float(t), float(c)))
print("| setting | PyTorch ms | clinpaint ms | PyTorch / clinpaint (per round) |")
print("|---|---|---|---|")
for (p, b), v in by.items():
    ts = [x[0] for x in v]; cs = [x[1] for x in v]; rs = [x[0] / x[1] for x in v]
    print("| %s b%s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.2f (%.2f-%.2f) |" % (
        p, b, statistics.median(ts), min(ts), max(ts), statistics.median(cs), min(cs), max(cs),
        statistics.median(rs), min(rs), max(rs)))
PY
