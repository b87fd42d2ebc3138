#!/usr/bin/env bash
# Builds the small measurement programs of notes/graph.md against build/libclinpaint.a:
#   tools/measure/build.sh && build/graph_memory && build/iteration_profile tiny 8
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for p in graph_memory iteration_profile iteration_time conv_layers conv_routes; do
    cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$root/include" "$root/tools/measure/$p.c" \
        "$root/build/libclinpaint.a" -lclblast -lOpenCL -lstb -lcjson -lm -lpthread -o "$root/build/$p"
done
echo "built build/graph_memory build/iteration_profile build/iteration_time build/conv_layers build/conv_routes"
