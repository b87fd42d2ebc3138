#!/bin/sh
# Operator benchmark: compiles tools/bench_ops_main.c against the library in
# a build folder and prints a Markdown table (per layer shape of G and D:
# forward/backward ms, GFLOP and GFLOP/s, plus CLBlast SGEMM 1024^3).
#   tools/bench_ops.sh [preset=base] [batch=8] [min_seconds=0.3] [device]
# Environment: BUILD_DIR (default build-conv), CC (default cc).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-conv}
lib=$build/libclinpaint.a
if [ ! -f "$lib" ]; then
    echo "no $lib: build first (cmake -S . -B build-conv && cmake --build build-conv)" >&2
    exit 1
fi
exe=$build/bench_ops
${CC:-cc} -std=c11 -O2 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -DCL_TARGET_OPENCL_VERSION=120 \
    -I"$root/include" -I"$root/tools/clinpaint" "$root/tools/bench_ops_main.c" \
    "$root/tools/clinpaint/env_options.c" "$lib" \
    -lclblast -lOpenCL -lcjson -lstb -lpthread -lm -o "$exe"
exec "$exe" "$@"
