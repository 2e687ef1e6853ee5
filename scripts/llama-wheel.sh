#!/usr/bin/env bash
# Build (once) and install llama-cpp-python for a CPU *target*, never for "whatever this machine is".
#
# Why: llama-cpp-python's default build is GGML_NATIVE (-march=native). Built on an Intel Xeon with
# AMX it enabled AMX_INT8 and the first generation died with a general protection fault in
# libggml-cpu.so, taking the server with it. And pip caches the built wheel by *version*, not by
# CMAKE_ARGS, so once a native wheel sits in ~/.cache/pip every later venv reinstalls it.
#
# So: the wheel is built with explicit flags, pip's cache is neither read nor written for it
# (--no-cache-dir --no-binary), and it is kept in a wheel folder whose name is derived from the
# package version, the target, the flags, the Python tag and the machine architecture. A folder
# can only ever hold the wheel its name describes; any venv of this checkout (or of another clone on
# the same machine) installs from it with --no-index.
#
# usage: scripts/llama-wheel.sh VENV_PYTHON [TARGET] [--rebuild]
#   TARGET  portable (default): AVX2 + FMA + F16C on x86-64, generic on aarch64; runs on any
#                               x86-64 CPU from Haswell / Zen 1 on; never AVX-512, never AMX.
#           avx512   (opt-in):  portable + AVX-512 F/BW/VL/VNNI/VBMI/BF16, AMX still off.
#   --rebuild  build again even if the wheel folder exists.
# env: LLAMA_WHEEL_DIR (default ${XDG_CACHE_HOME:-~/.cache}/quill-rag/llama-wheels)
set -euo pipefail

PY=${1:?usage: scripts/llama-wheel.sh VENV_PYTHON [portable|avx512] [--rebuild]}
TARGET=${2:-portable}
REBUILD=${3:-}
VERSION=0.3.36   # keep equal to requirements/constraints.txt

arch=$(uname -m)
common="-DGGML_NATIVE=OFF -DGGML_CCACHE=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
case "$arch:$TARGET" in
  x86_64:portable)
    flags="$common -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=OFF -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF" ;;
  x86_64:avx512)
    flags="$common -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON" ;;
  aarch64:portable)
    flags="$common -DGGML_CPU_ARM_ARCH=armv8-a" ;;
  *)
    echo "llama-wheel: no build target '$TARGET' for $arch (portable, or avx512 on x86_64)" >&2; exit 2 ;;
esac

pytag=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
key=$(printf '%s\n' "$VERSION" "$TARGET" "$flags" "$pytag" "$arch" | sha256sum | cut -c1-12)
root=${LLAMA_WHEEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quill-rag/llama-wheels}
dir="$root/llama-cpp-python-$VERSION-$TARGET-$pytag-$arch-$key"

if [ "$REBUILD" = "--rebuild" ] || ! ls "$dir"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "llama-wheel: building llama-cpp-python $VERSION for '$TARGET' ($arch), ~5-10 min on 2 cores"
  echo "llama-wheel: CMAKE_ARGS=$flags"
  tmp="$dir.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  CMAKE_ARGS="$flags" FORCE_CMAKE=1 "$PY" -m pip wheel -q --no-deps --no-cache-dir \
      --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -w "$tmp"
  printf '%s\n' "version=$VERSION" "target=$TARGET" "arch=$arch" "python=$pytag" "CMAKE_ARGS=$flags" > "$tmp/BUILD-INFO"
  rm -rf "$dir"; mv "$tmp" "$dir"    # atomic: a half-built folder is never taken for a finished one
fi

"$PY" -m pip install -q --no-index --no-deps --force-reinstall --find-links "$dir" "llama-cpp-python==$VERSION"
echo "llama-wheel: installed $TARGET build from $dir"
