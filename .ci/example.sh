#!/usr/bin/env bash
# CI: installs clinpaint into a temporary prefix, builds examples/train_tiny.c
# against the installed package twice (CMake find_package, then pkg-config)
# and runs both on synthetic faces. BUILD_DIR: a configured build (build/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${BUILD_DIR:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --build "$build" -j2 >/dev/null
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S examples -B "$tmp/with-cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/with-cmake" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name clinpaint.pc | head -1)")
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
cc -std=c11 -O2 examples/train_tiny.c $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs clinpaint) \
    -o "$tmp/with-pkg-config"
"$tmp/prefix/bin/clinpaint" synth --count 48 --size 64 --seed 1 "$tmp/faces" >/dev/null
"$tmp/with-cmake/train_tiny" "$tmp/faces" "$tmp/run1" "$tmp/faces/face_000000.png" "$tmp/out1.png"
"$tmp/with-pkg-config" "$tmp/faces" "$tmp/run2" "$tmp/faces/face_000001.png" "$tmp/out2.png"
test -s "$tmp/out1.png" && test -s "$tmp/out2.png"
echo "example: built against the installed package (CMake and pkg-config) and ran"
