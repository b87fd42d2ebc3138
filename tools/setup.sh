#!/usr/bin/env bash
# clinpaint set-up: installs what is missing (Debian/Ubuntu), configures,
# builds, then runs one job.
#
#   tools/setup.sh demo      build, then run the demo (the README's main command)
#   tools/setup.sh test      build, then run every test
#   tools/setup.sh sanitize  build with AddressSanitizer + UBSan, run every test
#   tools/setup.sh build     build only
#
# Environment: BUILD_DIR (default build, or build-asan for sanitize),
# CLINPAINT_WERROR=1 (warnings are errors; CI sets it), JOBS (default nproc).
set -euo pipefail

job=${1:-demo}
shift || true
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

packages=(cmake make gcc pkg-config ocl-icd-opencl-dev opencl-headers libclblast-dev
          libstb-dev libcjson-dev check pocl-opencl-icd clinfo libpng-dev libjpeg62-turbo-dev)

install_missing() {
    command -v dpkg >/dev/null 2>&1 || {
        echo "setup: not a Debian/Ubuntu system; install by hand: CMake, a C11 compiler," \
             "an OpenCL ICD loader and headers, CLBlast, stb, libpng, libjpeg-turbo, cJSON, Check, and an OpenCL" \
             "driver (see README.md)." >&2
        return 0
    }
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
    local dir=$1
    shift
    local werror=OFF
    [ "${CLINPAINT_WERROR:-0}" = "1" ] && werror=ON
    cmake -S "$root" -B "$dir" -DCLINPAINT_WERROR=$werror "$@"
    cmake --build "$dir" -j "$jobs"
}

run_tests() {
    local dir=$1
    # Tests share one OpenCL device: two at a time keep 2 cores busy.
    (cd "$dir" && ctest --output-on-failure -j 2 --timeout 1200)
}

# The tests also check every kernel file with clang's OpenCL C 1.2 front end.
case "$job" in test | sanitize) packages+=(clang) ;; esac
# Data-parallel training over MPI (test_dist_mpi runs mpirun -np 2).
case "$job" in test | sanitize) packages+=(openmpi-bin libopenmpi-dev) ;; esac
install_missing
case "$job" in
    demo)
        dir=${BUILD_DIR:-$root/build}
        build "$dir" -DCMAKE_BUILD_TYPE=Release
        "$dir/clinpaint" devices
        if "$dir/clinpaint" demo --help >/dev/null 2>&1; then
            "$dir/clinpaint" demo "$@"
        else
            # Until the demo exists: check the default device end to end.
            "$dir/clinpaint" devices --check
        fi
        ;;
    test)
        dir=${BUILD_DIR:-$root/build}
        build "$dir" -DCMAKE_BUILD_TYPE=Release
        run_tests "$dir"
        ;;
    sanitize)
        dir=${BUILD_DIR:-$root/build-asan}
        build "$dir" -DCMAKE_BUILD_TYPE=Debug -DCLINPAINT_SANITIZE=ON
        # Leaks inside the OpenCL driver stack (PoCL, LLVM, the ICD loader)
        # are suppressed by library name only; never our own code.
        export LSAN_OPTIONS="suppressions=$root/.ci/lsan.supp:print_suppressions=0"
        export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
        export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
        # Mesa's ICDs (rusticl, clover: .ci/portability.sh installs them) leak
        # when loaded, in frames LSan cannot unwind: leave them out here.
        if [ -z "${OCL_ICD_VENDORS:-}" ] && ls /etc/OpenCL/vendors/{mesa,rusticl}*.icd >/dev/null 2>&1; then
            mkdir -p "$dir/icd-without-mesa"
            for f in /etc/OpenCL/vendors/*.icd; do
                case $(basename "$f") in mesa* | rusticl*) ;; *) cp "$f" "$dir/icd-without-mesa/" ;; esac
            done
            export OCL_ICD_VENDORS=$dir/icd-without-mesa
        fi
        run_tests "$dir"
        ;;
    build)
        build "${BUILD_DIR:-$root/build}" -DCMAKE_BUILD_TYPE=Release
        ;;
    *)
        echo "usage: tools/setup.sh demo|test|sanitize|build" >&2
        exit 2
        ;;
esac
