#!/bin/sh
# Data pipeline throughput (decode + crop + resize, and the threaded loader).
# Not part of ctest: timings. Builds tools/bench_data/bench_data.c against
# build-data/libclinpaint.a (configure and build that first, see docs/data.md).
#
# usage: tools/bench_data.sh FACES_DIR [LARGE_DIR] [N_LARGE]
#   FACES_DIR: a folder of face crops (read only, e.g. CelebA's at 128 px);
#   defaults: /tmp/clinpaint-bench-large, 48
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-data}
faces=${1:?usage: tools/bench_data.sh FACES_DIR [LARGE_DIR] [N_LARGE]}
large=${2:-/tmp/clinpaint-bench-large}
n=${3:-48}
cmake --build "$build" --target clinpaint >/dev/null
out=$build/bench_data
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra \
   -I"$root/include" -I/usr/include/stb \
   "$root/tools/bench_data/bench_data.c" "$build/libclinpaint.a" \
   $(pkg-config --libs libpng libjpeg) -lstb -lm -lpthread -o "$out"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
"$out" "$faces" "$large" "$n"
