#!/usr/bin/env bash
# clinpaint against PyTorch on this machine, the issue's three settings, in
# one run: for each setting PyTorch first, then clinpaint, medians of whole
# training iterations (notes/bench.md). With ROUNDS=N, each setting is
# repeated N times, alternating the two, to see the spread.
#   cmake --build build && tools/measure/compare_torch.sh
# Needs /usr/bin/python3 with torch (python3-torch); SETTINGS overrides the
# list ("preset batch iterations" triples separated by commas).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
IFS=',' read -r -a settings <<< "${SETTINGS:-tiny 8 12,base 8 6,small 64 3}"
rounds=${ROUNDS:-1}
for s in "${settings[@]}"; do
    read -r preset batch iters <<< "$s"
    for ((r = 1; r <= rounds; r++)); do
        echo "== $preset batch $batch round $r, load $(cut -d' ' -f1-3 /proc/loadavg)"
        /usr/bin/python3 tools/torch_reference.py --bench --preset "$preset" --batch "$batch" \
            --threads 2 --iters "$iters" --min-seconds 1 2>&1 | tail -1
        build/iteration_time "$preset" "$batch" "$iters" 2>&1 | tail -1
    done
done
