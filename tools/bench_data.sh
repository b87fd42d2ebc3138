#!/bin/sh
# Data pipeline throughput (decode + crop + resize, and the threaded loader).
# Not part of ctest: timings. Runs build/bench_data (tools/measure/bench_data.c,
# built by CMake with the library: cmake --build build).
#
# usage: tools/bench_data.sh FACES_DIR [LARGE_DIR] [N_LARGE]
#   FACES_DIR: a folder of face crops (read only, e.g. CelebA's at 128 px);
#   defaults: /tmp/clinpaint-bench-large, 48
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build}
faces=${1:?usage: tools/bench_data.sh FACES_DIR [LARGE_DIR] [N_LARGE]}
large=${2:-/tmp/clinpaint-bench-large}
n=${3:-48}
cmake --build "$build" --target bench_data >/dev/null
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
"$build/bench_data" "$faces" "$large" "$n"
