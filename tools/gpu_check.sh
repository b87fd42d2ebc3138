#!/usr/bin/env bash
# One check for anyone with a GPU: is clinpaint correct and how fast is it
# there? Run it from the repository after building (tools/setup.sh test, or
# cmake -S . -B build && cmake --build build), then send the JSON file it
# writes (docs/gpus.md says where).
#
#   tools/gpu_check.sh [--device SEL] [--reference SEL] [--out DIR] [--quick]
#
#   --device SEL     the device to check (default: CLINPAINT_DEVICE, else
#                    clinpaint's default: the first GPU)
#   --reference SEL  the device the training losses are compared with
#                    (default: the first PoCL CPU device, if any)
#   --out DIR        where logs and the JSON go (default gpu-check-DATE)
#   --quick          a dry run for CPUs: fast op tests only, 20 training
#                    steps, bench --quick, 1 minute of tuning
#
# Steps: devices (list, --json, --check), the operator and golden tests on
# the device, 100 steps of `tiny` (batch 8) on the device and on the
# reference with losses compared, GEMM tuning and the convolution routes
# measured (tools/measure/conv_routes), and bench --json for tiny b8, base b8
# and small b64. Each step has a time limit; the whole takes under 10
# minutes on a GPU (most of it the reference's training steps on a CPU).
# Exit 0 when every step passed, 1 otherwise, 2 on a usage error.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
cli=$build/clinpaint

device=${CLINPAINT_DEVICE:-}
reference=""
out=""
quick=0
while [ $# -gt 0 ]; do
    case $1 in
    --device) device=${2:?--device needs a value}; shift 2 ;;
    --reference) reference=${2:?--reference needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --quick) quick=1; shift ;;
    -h | --help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$cli" ] || { echo "gpu_check: no $cli: build first (tools/setup.sh test)" >&2; exit 1; }
out=${out:-gpu-check-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
# A cache folder of its own: tuning and measured routes start afresh and
# stay out of the user's cache.
export CLINPAINT_CACHE_DIR=$out/cache
export CLINPAINT_NO_TUNE=1 # every step but tune and bench: the untuned defaults
dev_args=()
[ -n "$device" ] && dev_args=(--device "$device")

steps_json=""
failed=0
# step NAME LIMIT_SECONDS CMD...: runs CMD with its output in $out/NAME.log.
step() {
    local name=$1 limit=$2
    shift 2
    local t0 rc status
    t0=$(date +%s.%N)
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    rc=$?
    local secs
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    status=pass
    [ $rc -eq 124 ] && status=timeout
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && status=fail
    [ "$status" = pass ] || failed=1
    printf '%-22s %-7s %6s s   %s\n' "$name" "$status" "$secs" "$out/$name.log"
    steps_json+="${steps_json:+,}{\"name\":\"$name\",\"status\":\"$status\",\"exit\":$rc,\"seconds\":$secs}"
}

echo "gpu_check: results in $out"
step devices 60 "$cli" devices
step devices_json 60 "$cli" devices --json
cp "$out/devices_json.log" "$out/devices.json" 2>/dev/null
step devices_check 120 "$cli" devices --check "${dev_args[@]}"

# The device's name and driver, for the summary (the JSON of devices --check
# is not needed: the device line is in its log).
dev_line=$(grep -m1 -E '^\*? *[0-9]+:[0-9]+' "$out/devices.log" || true)

# Operator and golden tests on the device (CLINPAINT_DEVICE).
if [ $quick -eq 1 ]; then
    tests='^test_(golden|gemm|pool|activation|elementwise|adam)$'
else
    tests='^test_(golden|gemm|conv|conv_transpose|dense|pool|activation|elementwise|batchnorm|loss|adam|graph)$'
fi
step op_tests $([ $quick -eq 1 ] && echo 300 || echo 420) \
    env ${device:+CLINPAINT_DEVICE="$device"} bash -c 'cd "$1" && ctest -R "$2" --output-on-failure' _ "$build" "$tests"

# Training: the same steps on the device and on the reference. Losses of
# the first steps must agree to 1e-3 relative: both compute the same
# float32 operations in different summation orders (GEMM tiles, direct or
# implicit GEMM convolutions), ~1e-6 apart per op; through Adam and the GAN
# the differences grow with the steps, so later steps are only reported.
steps=$([ $quick -eq 1 ] && echo 20 || echo 100)
faces=$out/faces
"$cli" synth --count 80 --size 64 --seed 1 "$faces" >"$out/synth.log" 2>&1
if [ -z "$reference" ]; then
    reference=$("$cli" devices 2>/dev/null | awk '/^\*? *[0-9]+:[0-9]+/ { sel = $1 == "*" ? $2 : $1 }
        /platform/ && /Portable Computing Language/ { print sel; exit }')
fi
train_args=(train --data "$faces" --preset tiny --batch 8 --max-steps "$steps" --eval-images 8 --seed 1)
step train_device 300 "$cli" "${train_args[@]}" --out "$out/run-device" "${dev_args[@]}"
loss_check="skipped (no reference device)"
if [ -n "$reference" ]; then
    step train_reference 420 "$cli" "${train_args[@]}" --out "$out/run-reference" \
        --device "$reference"
    # log.csv: step,epoch,L_rec,L_adv,L_G,L_D,... ; compare L_rec, L_G, L_D.
    loss_check=$(awk -F, -v early=10 '
        FNR == 1 { next }
        NR == FNR { a[$1] = $3 " " $5 " " $6; next }
        ($1 in a) {
            split(a[$1], v, " "); w[1] = $3; w[2] = $5; w[3] = $6
            for (i = 1; i <= 3; i++) {
                d = v[i] - w[i]; if (d < 0) d = -d
                m = w[i] < 0 ? -w[i] : w[i]; r = d / (m > 1e-12 ? m : 1e-12)
                if ($1 <= early && r > worst_early) worst_early = r
                if (r > worst) worst = r
            }
            n++
        }
        END {
            if (n == 0) { print "FAIL: no common steps"; exit 1 }
            printf "%s: %d steps, worst relative difference %.2e in steps 1-%d (limit 1e-3), %.2e over all\n",
                worst_early <= 1e-3 ? "pass" : "FAIL", n, worst_early, early, worst
            exit worst_early <= 1e-3 ? 0 : 1
        }' "$out/run-device/log.csv" "$out/run-reference/log.csv" 2>&1)
    [ $? -eq 0 ] || failed=1
    echo "losses vs reference: $loss_check"
fi

# Tuning: GEMM classes, then every convolution route of tiny b8 measured
# and saved (what first use and tune keep), with GFLOP/s per route.
unset CLINPAINT_NO_TUNE
tune_min=$([ $quick -eq 1 ] && echo 1 || echo 2)
step tune 200 "$cli" tune "${dev_args[@]}" --preset tiny --batch 8 --budget-minutes "$tune_min" --no-clblast
if [ ! -x "$build/conv_routes" ]; then
    cmake --build "$build" --target conv_routes >"$out/measure_build.log" 2>&1
fi
step conv_routes 200 env ${device:+CLINPAINT_DEVICE="$device"} "$build/conv_routes" tiny 8 --save

# Benchmarks (with the tuning and the measured routes applied).
bench_json=""
if [ $quick -eq 1 ]; then
    step bench_quick 120 "$cli" bench "${dev_args[@]}" --quick --json "$out/bench-quick.json"
    [ -s "$out/bench-quick.json" ] && bench_json="\"quick\":$(cat "$out/bench-quick.json")"
else
    for cfg in "tiny 8" "base 8" "small 64"; do
        set -- $cfg
        step "bench_$1_b$2" 200 "$cli" bench "${dev_args[@]}" --preset "$1" --batch "$2" \
            --json "$out/bench-$1-b$2.json"
        [ -s "$out/bench-$1-b$2.json" ] &&
            bench_json+="${bench_json:+,}\"$1_b$2\":$(cat "$out/bench-$1-b$2.json")"
    done
fi

# One JSON to send in: the steps, the device list, the loss comparison, the
# measured routes (text) and the bench figures.
json_str() { # stdin -> a JSON string
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | awk '{ printf "%s\\n", $0 }'
}
report=$out/gpu-check.json
{
    printf '{"format":"clinpaint-gpu-check-1","date":"%s","version":"%s",' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$("$cli" --version 2>/dev/null | head -1 | json_str)"
    printf '"device_selector":"%s","reference":"%s","quick":%s,"passed":%s,' \
        "$device" "$reference" "$([ $quick -eq 1 ] && echo true || echo false)" \
        "$([ $failed -eq 0 ] && echo true || echo false)"
    printf '"steps":[%s],' "$steps_json"
    printf '"devices":%s,' "$( [ -s "$out/devices.json" ] && cat "$out/devices.json" || echo null)"
    printf '"devices_check":"%s",' "$(json_str <"$out/devices_check.log")"
    printf '"losses":"%s",' "$(printf '%s' "$loss_check" | json_str)"
    printf '"conv_routes":"%s",' "$(json_str <"$out/conv_routes.log")"
    printf '"bench":{%s}}\n' "$bench_json"
} >"$report"

echo
echo "== summary =="
echo "device:     ${dev_line:-default} ${device:+(selector $device)}"
echo "reference:  ${reference:-none}"
echo "losses:     $loss_check"
grep -E '^sum over' "$out/conv_routes.log" 2>/dev/null | sed 's/^/routes:     /'
for f in "$out"/bench-*.json; do
    [ -s "$f" ] && command -v python3 >/dev/null || continue
    python3 - "$f" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))["devices"][0]
for it in d.get("iterations", []):
    print("bench:      %s %s b%d: %.1f ms/iteration, %.1f images/s" % (
        os.path.basename(sys.argv[1]), d.get("preset"), it["batch"], it["ms"]["median"],
        it["images_per_s"]))
PY
done
echo "result:     $([ $failed -eq 0 ] && echo 'every step passed' || echo 'SOME STEPS FAILED (see the logs)')"
echo "send:       $report"
exit $failed
