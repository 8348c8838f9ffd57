#!/usr/bin/env bash
# tools/test.sh - the README's test command: set-up, build with warnings as errors, the
# whole test suite, then a second build under AddressSanitizer + UBSan running the CPU
# tests. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
JOBS=${JOBS:-$(nproc)}
# Two cores: OpenMP and OpenBLAS must not both spawn a thread per core.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$JOBS} OPENBLAS_NUM_THREADS=1
if [ -z "${LORETTA_DATA:-}" ] && [ -d ../shared/data ]; then
  export LORETTA_DATA="$(cd ../shared/data && pwd)"
fi

echo "== build (Release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLORETTA_WERROR=ON >build-configure.log 2>&1 || { cat build-configure.log; exit 1; }
grep -E "loretta" build-configure.log || true
cmake --build build -j"$JOBS"
echo "== tests"
ctest --test-dir build --output-on-failure -j1

echo "== install check (CMake package config and pkg-config, from a consumer project)"
rm -rf build/install-check
cmake --install build --prefix build/install-check/prefix >/dev/null
cmake -S tools/install_check -B build/install-check/consumer -DCMAKE_PREFIX_PATH="$PWD/build/install-check/prefix" >/dev/null
cmake --build build/install-check/consumer >/dev/null
build/install-check/consumer/lt_hello
PKG_CONFIG_PATH="$PWD/build/install-check/prefix/lib/pkgconfig" sh -c \
  'cc tools/install_check/hello.c $(pkg-config --cflags --libs --static loretta) -o build/install-check/hello_pc' 
build/install-check/hello_pc

echo "== sanitizer build (ASan + UBSan, cpu backends)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLORETTA_WERROR=ON -DLORETTA_SANITIZE=ON \
  -DLORETTA_OPENCL=OFF -DLORETTA_VULKAN=OFF -DLORETTA_CUDA=OFF >build-asan-configure.log 2>&1 || { cat build-asan-configure.log; exit 1; }
cmake --build build-asan -j"$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LORETTA_QUICK=1 ctest --test-dir build-asan --output-on-failure -j1 -L "unit|conformance|train|golden"
echo "== all tests passed"
