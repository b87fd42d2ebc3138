#!/bin/sh
# Operator benchmark: runs build/bench_ops (tools/measure/bench_ops.c, built by
# CMake with the library) and prints a Markdown table (per layer shape of G
# and D: forward/backward ms, GFLOP and GFLOP/s, plus CLBlast SGEMM 1024^3).
#   tools/bench_ops.sh [preset=base] [batch=8] [min_seconds=0.3] [device]
# Environment: BUILD_DIR (default build).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cmake --build "$build" --target bench_ops >/dev/null
exec "$build/bench_ops" "$@"
