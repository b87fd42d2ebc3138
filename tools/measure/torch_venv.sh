#!/usr/bin/env bash
# Installs the peer for speed comparisons: current PyTorch from PyPI in a
# virtual environment at .venv-torch/ (ignored by git). PyPI's Linux wheel is
# a CUDA build (about 3 GB with its dependencies) that imports and runs on a
# CPU-only machine; it bundles MKL and oneDNN.
#   tools/measure/torch_venv.sh      then   tools/measure/compare_torch.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${TORCH_VENV:-$root/.venv-torch}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import torch, numpy' 2>/dev/null || "$venv/bin/pip" install torch numpy
"$venv/bin/python" -c 'import torch; print("PyTorch", torch.__version__, "in", "'"$venv"'")'
