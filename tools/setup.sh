#!/usr/bin/env bash
# tools/setup.sh - installs what the build and tests need on a fresh Debian machine.
# Every package is optional to the build (a missing SDK skips its backend), but the
# test suite expects all of them so that every backend is exercised.
set -euo pipefail
PKGS=(cmake make gcc pkg-config
      libcmocka-dev libopenblas-dev liblapacke-dev libcjson-dev zlib1g-dev libpng-dev
      libfftw3-dev libsndfile1-dev libsamplerate0-dev dataset-fashion-mnist fortunes espeak-ng
      ocl-icd-opencl-dev opencl-headers pocl-opencl-icd libclblast-dev clinfo
      libvulkan-dev mesa-vulkan-drivers glslc vulkan-tools vulkan-validationlayers
      python3-torch python3-numpy)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
