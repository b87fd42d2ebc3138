#!/usr/bin/env bash
# Every kernel file must be valid OpenCL C 1.2, as strict GPU compilers read
# it (PoCL accepts more): clang's OpenCL front end, syntax and semantics
# only, warnings as errors, with the kinds of build options the runtime uses
# (src/backend/opencl/ops/*.c). Run by ctest as kernels_opencl_c_1_2.
#   tools/check_kernels.sh [CL_DIR]     (default: the repository's cl/)
# Exit 0: all valid; 1: a file failed (clang's message says where);
# 77: no clang (ctest reports the test as skipped; apt install clang).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$root/cl}
clang=${CLANG:-clang}
command -v "$clang" >/dev/null 2>&1 || { echo "check_kernels: no $clang (apt install clang)"; exit 77; }

failed=0
check() { # file, build options...
    local file=$1
    shift
    if ! "$clang" -x cl -cl-std=CL1.2 -fsyntax-only -Wall -Werror \
         -Xclang -finclude-default-header -I"$dir" "$@" "$dir/$file"; then
        echo "check_kernels: $file is not valid OpenCL C 1.2 with: $*" >&2
        failed=1
    fi
}

# Files with kernels and no required options.
for f in act.cl adam.cl batchnorm.cl elementwise.cl loss.cl pool.cl reduce.cl util.cl sum_helpers.cl; do
    check "$f"
done
check loss_dice.cl # the mask detector's loss
check conv.cl
check conv.cl -DKH=2 -DKW=2 -DSH=2 -DSW=2 -DPT=0 -DPL=0 -DWG=256
for ta in 0 1; do
    for tb in 0 1; do
        for vw in 1 16; do
            check gemm.cl -DTA=$ta -DTB=$tb -DTM=4 -DTN=2 -DVW=$vw -DLX=1 -DLY=1 -DKC=0
        done
        check gemm.cl -DTA=$ta -DTB=$tb -DTM=4 -DTN=4 -DVW=1 -DLX=8 -DLY=8 -DTK=16
        check gemm.cl -DTA=$ta -DTB=$tb -DTM=4 -DTN=4 -DVW=16 -DLX=4 -DLY=2 -DKC=1024
    done
done
for vw in 4 8 16; do
    check vec_direct.cl -DVW=$vw
    check conv_direct.cl -DKH=3 -DKW=3 -DPT=1 -DPL=1 -DVW=$vw -DTN=2 -DTM=8
    check conv_direct.cl -DKH=2 -DKW=2 -DPT=0 -DPL=0 -DVW=$vw -DTN=1 -DTM=8
    check conv_direct_dw.cl -DKH=3 -DKW=3 -DPT=1 -DPL=1 -DVW=$vw -DTNW=1 -DTMW=8
    check conv_direct_dw.cl -DKH=2 -DKW=2 -DPT=0 -DPL=0 -DVW=$vw -DTNW=2 -DTMW=8
    check up2_direct.cl -DVW=$vw -DTM=4 -DTMX=16 -DTMW=8
done
# The implicit GEMM: every mode, the largest and the one-work-item tile.
for mode in 0 1 2; do
    check conv_igemm.cl -DMODE=$mode -DKH=3 -DKW=3 -DSH=1 -DSW=1 -DPT=1 -DPL=1 -DTM=4 -DTN=4 -DLX=16 -DLY=16 -DTK=16
    check conv_igemm.cl -DMODE=$mode -DKH=2 -DKW=2 -DSH=2 -DSW=2 -DPT=0 -DPL=0 -DTM=1 -DTN=4 -DLX=1 -DLY=1 -DTK=16
done
# Every file above? A new cl/ file must be added here.
for f in "$dir"/*.cl; do
    grep -q "$(basename "$f")" "${BASH_SOURCE[0]}" ||
        { echo "check_kernels: $(basename "$f") is not checked: add it to ${BASH_SOURCE[0]}" >&2; failed=1; }
done
[ $failed -eq 0 ] && echo "check_kernels: every kernel file is valid OpenCL C 1.2"
exit $failed
