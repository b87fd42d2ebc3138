#!/usr/bin/env bash
# CI on two more OpenCL implementations besides PoCL (notes/portability.md):
#   rusticl (Mesa, llvmpipe): devices --check, the op tests, and a short
#     training whose losses must match PoCL's within 1e-5 relative;
#   oclgrind (simulator, --check-api --data-races): the op tests' portability
#     cases on small shapes and a short training at work-group limits 1 and
#     64 (the latter on the implicit-GEMM convolutions), failing on any diagnostic oclgrind prints.
# Uses an existing build in $BUILD_DIR (default build/), else builds one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${BUILD_DIR:-build}
start=$(date +%s)
say() { echo "portability: $* ($(( $(date +%s) - start )) s)"; }

missing=()
for p in mesa-opencl-icd oclgrind pocl-opencl-icd; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ ! -x "$build/clinpaint" ]; then
    cmake -S . -B "$build" -DCLINPAINT_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2
fi
cli=$(cd "$build" && pwd)/clinpaint

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CLINPAINT_CACHE_DIR=$work/cache
# One implementation at a time: a vendors folder holding only its .icd.
only_icd() {
    local name=$1 dir=$work/vendors-$1 icd
    icd=$(ls /etc/OpenCL/vendors/"$name"*.icd 2>/dev/null | head -n1)
    [ -n "$icd" ] || { echo "portability: no $name .icd in /etc/OpenCL/vendors" >&2; exit 1; }
    mkdir -p "$dir"
    cp "$icd" "$dir/"
    echo "$dir"
}
pocl_icd=$(only_icd pocl)
rusticl_icd=$(only_icd rusticl)

# Training data and run: tiny preset at 32 px, three steps; the convolutions
# through im2col + GEMM (the direct kernels run in groups of one, very slow
# on llvmpipe and in a simulator).
"$cli" synth --count 24 --size 32 --seed 3 "$work/data" >/dev/null
train() { # OUT [extra options]
    local out=$1
    shift
    CLINPAINT_CONV=${CONV:-gemm} "$cli" train --data "$work/data" --preset tiny --size 32 --batch 4 \
        --max-steps 3 --eval-images 2 --out "$out" "$@" >"$out.log" 2>&1 ||
        { cat "$out.log" >&2; echo "portability: training failed ($out)" >&2; exit 1; }
}
# Losses (columns 3..8 of log.csv) equal within 1e-5 relative.
same_losses() { # A B
    awk -F, 'NR == FNR { if (FNR > 1) for (i = 3; i <= 8; i++) a[FNR, i] = $i; next }
             FNR > 1 { n++; for (i = 3; i <= 8; i++) {
                 d = $i - a[FNR, i]; if (d < 0) d = -d; m = a[FNR, i]; if (m < 0) m = -m;
                 if (d > 1e-5 * m + 1e-12) { printf "step %d column %d: %s vs %s\n", $1, i, a[FNR, i], $i; bad = 1 } } }
             END { if (n == 0) { print "no steps logged"; bad = 1 }; exit bad }' "$1" "$2"
}

# ---- PoCL: the reference losses ----
OCL_ICD_VENDORS=$pocl_icd train "$work/pocl"
# The same with every convolution on the GPU-class implicit GEMM.
OCL_ICD_VENDORS=$pocl_icd CONV=igemm train "$work/pocl-igemm"
say "PoCL training done"

# ---- rusticl on llvmpipe ----
# LP_NUM_THREADS=0: llvmpipe runs kernels on the calling thread; its thread
# pool (one per "compute unit") made each launch wait on a busy 2-core box
# (test_gemm's limit cases: 67 s -> 4 s). GEMMs through CLBlast for the
# training: the own CPU kernels' small work-groups are slow on llvmpipe.
(
    export OCL_ICD_VENDORS=$rusticl_icd RUSTICL_ENABLE=llvmpipe LP_NUM_THREADS=0
    "$cli" devices
    "$cli" devices --check
    say "rusticl devices --check ok"
    (cd "$build" && ctest -j2 --output-on-failure --timeout 400 \
        -R 'test_(gemm|loss|batchnorm|elementwise|activation|pool|adam|dense|runtime)$')
    say "rusticl op tests passed"
    # The convolution tests on the GPU-class implicit GEMM only (every case
    # and finite-difference check; the other routes take many minutes here).
    (cd "$build" && CLINPAINT_TEST_CONV_ROUTES=igemm ctest -j2 --output-on-failure --timeout 400 \
        -R 'test_conv(_transpose)?$')
    say "rusticl convolution tests on the implicit GEMM passed"
    CLINPAINT_GEMM=clblast train "$work/rusticl"
    same_losses "$work/pocl/log.csv" "$work/rusticl/log.csv"
    say "rusticl training losses match PoCL's"
    CLINPAINT_GEMM=clblast CONV=igemm train "$work/rusticl-igemm"
    same_losses "$work/pocl-igemm/log.csv" "$work/rusticl-igemm/log.csv"
    say "rusticl training on the implicit GEMM matches PoCL's"
)

# ---- oclgrind: API checks and data races ----
# Any "Oclgrind" diagnostic on stderr fails (oclgrind reports errors there
# and lets the program go on). Our own GEMM kernels (CLINPAINT_GEMM=own):
# CLBlast's fixed work-group shapes cannot run at a limit of 1.
oclgrind_run() { # LOG command...
    local log=$1
    shift
    if ! oclgrind --check-api --data-races "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "portability: failed under oclgrind: $*" >&2
        exit 1
    fi
    if grep -n -E "Oclgrind - |data race|Invalid (read|write)|runtime error|API error|Uninitiali[sz]ed" \
        "$log" | head -n 20 | grep . >&2; then
        echo "portability: oclgrind diagnostics in $log" >&2
        exit 1
    fi
}
(
    export CLINPAINT_GEMM=own CLINPAINT_CONV=gemm CLINPAINT_TEST_SMALL=1 \
        CK_RUN_CASE=portability CK_FORK=no
    oclgrind_run "$work/og-devices.log" "$cli" devices --check
    for t in test_runtime test_loss test_batchnorm test_gemm; do
        oclgrind_run "$work/og-$t.log" "$build/$t"
        say "oclgrind $t (portability cases, small shapes) clean"
    done
    small=(--widths 4,4,8,8,8,8 --latent 16 --batch 2 --max-steps 1)
    # Limit 1 on im2col + our GEMM; limit 64 with every convolution on the
    # implicit GEMM, whose local-memory tiles are where races would be.
    for wg in 1 64; do
        conv=gemm
        [ "$wg" = 64 ] && conv=igemm
        oclgrind_run "$work/og-train-$wg.log" --max-wgsize "$wg" \
            env CLINPAINT_CONV=$conv "$cli" train --data "$work/data" --preset tiny --size 32 --eval-images 1 \
            --out "$work/og-train-$wg" "${small[@]}"
        say "oclgrind training at work-group limit $wg clean"
    done
)
say "all passed"
