#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (libFuzzer + ASan + UBSan), writes
# seed corpora (and a dictionary) into build-fuzz/, and runs each target.
#   tools/fuzz.sh [seconds] [safetensors|image|all]
#     seconds per target, default 600; target default all (one after the
#     other). Crashes land in build-fuzz/; the exit status is non-zero on any
#     finding (crash, leak, timeout, out-of-memory, sanitizer report).
# Extra libFuzzer flags can be passed in FUZZ_FLAGS, e.g. FUZZ_FLAGS=-jobs=4.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
TARGET=${2:-all}
case "$TARGET" in safetensors | image | all) ;; *)
  echo "usage: tools/fuzz.sh [seconds] [safetensors|image|all]" >&2; exit 2 ;; esac
B=build-fuzz
CC=${CC:-clang}

# The whole library is instrumented (fuzzer-no-link): coverage of the parser
# itself is what guides the fuzzer, not just of the harness.
CC=$CC cmake -S . -B "$B" -DCLINPAINT_FUZZ=ON -DCLINPAINT_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
  >/dev/null
cmake --build "$B" --target fuzz_safetensors fuzz_image -j"$(nproc)"

C="$B/corpus"
mkdir -p "$C"
# seed NAME JSON DATA: a file with the u64 LE length of JSON (ASCII), JSON,
# then DATA (printf escapes).
seed() {
  local n=${#2}
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x00\\x00\\x00' \
    $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)))" >"$C/$1"
  printf '%s' "$2" >>"$C/$1"
  printf "$3" >>"$C/$1"
}
seed empty '{}' ''
seed padded '{}      ' ''
seed one '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' \
  '\x00\x00\x80\x3f\x00\x00\x00\xc0'
seed meta '{"__metadata__":{"k":"v","step":"12"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}' \
  '\x00\x00\x80\x3f'
seed multi '{"G.enc1.conv3.weight":{"dtype":"F32","shape":[2,1,1,1],"data_offsets":[0,8]},"G.enc1.conv3.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}' \
  '\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10'
seed mixed '{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"d":{"dtype":"F64","shape":[1],"data_offsets":[2,10]},"z":{"dtype":"U8","shape":[0,3],"data_offsets":[10,10]},"i":{"dtype":"I64","shape":[1,1],"data_offsets":[10,18]}}' \
  '\x00\x3c\x00\x00\x00\x00\x00\x00\xf0\x3f\x07\x00\x00\x00\x00\x00\x00\x00'

cat >"$B/safetensors.dict" <<'DICT'
"\"dtype\""
"\"shape\""
"\"data_offsets\""
"\"__metadata__\""
"\"F32\""
"\"F16\""
"\"BF16\""
"\"F64\""
"\"I64\""
"\"U8\""
"\"BOOL\""
"\\u0000"
"18446744073709551616"
"9007199254740993"
"1099511627776"
"-1"
"1.0"
"1e3"
DICT

# Image seeds: small valid PNG (each colour type, 16-bit, interlaced),
# JPEG (baseline, progressive, grey), BMP, TGA (plain, RLE) and GIF.
mkdir -p "$B/corpus-image"
# shellcheck disable=SC2046
"$CC" -O1 $(pkg-config --cflags libpng libjpeg) -I/usr/include/stb fuzz/make_image_seeds.c \
  $(pkg-config --libs libpng libjpeg) -lstb -o "$B/make_image_seeds"
"$B/make_image_seeds" "$B/corpus-image"

cd "$B"
run() {
  echo "fuzzing $1 for ${SECS}s; corpus $2"
  # shellcheck disable=SC2086
  ./"$1" -max_total_time="$SECS" -print_final_stats=1 "${@:3}" ${FUZZ_FLAGS:-} "$2"
}
if [ "$TARGET" = safetensors ] || [ "$TARGET" = all ]; then
  run fuzz_safetensors corpus -max_len=16384 -dict=safetensors.dict
fi
if [ "$TARGET" = image ] || [ "$TARGET" = all ]; then
  # -rss_limit_mb: the budget in the target keeps any one image small
  run fuzz_image corpus-image -max_len=65536 -rss_limit_mb=2048 -timeout=10
fi
