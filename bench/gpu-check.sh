#!/usr/bin/env bash
# The native engine on an NVIDIA GPU, in a few minutes, on a machine with a CUDA PyTorch but
# neither Node nor this project's node_modules. Beforehand, on a machine with the project:
#   npx tsx bench/gpu-prepare.ts      # writes .gpu/: node.xz, N-API headers, fixtures (~25 MB)
# then carry .gpu with the working tree and run here, from the repository root:
#   bench/gpu-check.sh                # PYTHON=... picks the interpreter with torch
# It (1) compiles the addon (native/src) against Python torch's own libtorch (torch/include,
# torch/lib, its C++ ABI flag; C++20 for torch 2.12+) with g++, timing it; (2) unpacks Node;
# (3) runs bench/gpu-check.mjs: the parity of the small preset's loss and weight gradients on
# cuda (and cpu) against tfjs's cpu backend, then training photos/s of the method preset at 384 px
# on cuda, fp32 and bf16 (autocast), beside Python PyTorch's on the same GPU (bench/peers/torch_siamese.py).
# Output goes to stdout and to $OUT/gpu-check.txt when OUT is set.
set -euo pipefail
cd "$(dirname "$0")/.."
G=.gpu
PY=${PYTHON:-python3}
[ -f "$G/node.xz" ] && [ -d "$G/fixtures" ] || { echo "gpu-check: $G is missing: run 'npx tsx bench/gpu-prepare.ts' on a machine with the project, and carry $G"; exit 2; }
log() { echo "$@"; if [ -n "${OUT:-}" ]; then echo "$@" >> "$OUT/gpu-check.txt"; fi; }
read -r TORCH_DIR TORCH_VERSION ABI CUDA < <("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__), torch.__version__, int(torch._C._GLIBCXX_USE_CXX11_ABI), torch.version.cuda)')
log "gpu-check: torch $TORCH_VERSION (CUDA $CUDA, C++ ABI $ABI) at $TORCH_DIR; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"
# WHALEID_GPU_CHECK_CPU=1 goes on without CUDA (to try the script itself on a CPU torch)
[ "$CUDA" != "None" ] || [ -n "${WHALEID_GPU_CHECK_CPU:-}" ] || { log "gpu-check: this torch has no CUDA"; exit 2; }
MAJOR=${TORCH_VERSION%%.*}; REST=${TORCH_VERSION#*.}; MINOR=${REST%%.*}
STD=c++17; if [ "$MAJOR" -gt 2 ] || { [ "$MAJOR" -eq 2 ] && [ "$MINOR" -ge 12 ]; }; then STD=c++20; fi
LIBS=""
for l in torch torch_cpu c10 torch_cuda c10_cuda; do [ -f "$TORCH_DIR/lib/lib$l.so" ] && LIBS="$LIBS -l$l"; done
FLAGS=(-O2 -fPIC -std=$STD -D_GLIBCXX_USE_CXX11_ABI=$ABI -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -Wno-deprecated-declarations
  -I"$G/include" -I"$TORCH_DIR/include" -I"$TORCH_DIR/include/torch/csrc/api/include")
mkdir -p "$G/build"
START=$(date +%s)
# the two translation units in parallel; fails when either does
compile() {
  g++ "${FLAGS[@]}" -c native/src/addon.cc -o "$G/build/addon.o" & local a=$!
  g++ "${FLAGS[@]}" -c native/src/engine.cc -o "$G/build/engine.o" & local b=$!
  wait $a && wait $b
}
if ! compile 2> "$G/build/compile.log"; then
  if [ "$STD" = c++17 ]; then STD=c++20; FLAGS[2]=-std=c++20; log "gpu-check: retrying with C++20"; compile 2> "$G/build/compile.log" || { tail -20 "$G/build/compile.log"; exit 1; }
  else tail -20 "$G/build/compile.log"; exit 1; fi
fi
g++ -shared -o "$G/build/whaleid_native.node" "$G/build/addon.o" "$G/build/engine.o" -L"$TORCH_DIR/lib" -Wl,-rpath,"$TORCH_DIR/lib" -Wl,--no-as-needed $LIBS -Wl,--as-needed
log "gpu-check: addon compiled ($STD, ABI $ABI, libs:$LIBS) in $(( $(date +%s) - START )) s"
[ -x "$G/node" ] || { xz -dc "$G/node.xz" > "$G/node"; chmod +x "$G/node"; }
CHECK=("$G/node" bench/gpu-check.mjs "$G/build/whaleid_native.node" "$G/fixtures" --python "$PY" "$@")
if [ -n "${OUT:-}" ]; then "${CHECK[@]}" 2>&1 | tee -a "$OUT/gpu-check.txt"; else "${CHECK[@]}"; fi
