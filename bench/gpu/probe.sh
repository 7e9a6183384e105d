#!/usr/bin/env bash
# Usage (on the GPU machine): bash bench/gpu/probe.sh [path to the xla matmul binary]
# Build it first on a machine with Go: go build -tags xla -o bin/gpu-matmul ./bench/gpu/matmul
# Environment probe for the XLA CUDA backend: finds the JAX CUDA PJRT plugin
# and the NVIDIA libraries, then runs a bf16 matmul through GoMLX's XLA backend
# and through PyTorch for comparison.
set -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
SP=$(python3 -c 'import site; print(site.getsitepackages()[0])')
echo "site-packages: $SP"
python3 -c 'import jax; print("jax", jax.__version__)' 2>&1 | tail -1
PLUGIN=$(ls "$SP"/jax_plugins/*/xla_cuda_plugin.so 2>/dev/null | head -1)
[ -n "$PLUGIN" ] || PLUGIN=$(find / -name xla_cuda_plugin.so 2>/dev/null | head -1)
echo "plugin: $PLUGIN"
ls "$SP"/nvidia 2>/dev/null | tr '\n' ' '; echo
export LD_LIBRARY_PATH="$(ls -d "$SP"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
export GOMLX_NO_AUTO_INSTALL=1
timeout 200 "${1:-./bin/gpu-matmul}" "xla:$PLUGIN" 2>&1 | tail -20
python3 - <<'PY'
import time, torch
for n in (4096, 8192):
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16) * 0.01
    x = a
    for _ in range(3): x = x @ a
    torch.cuda.synchronize()
    best = 1e9
    for _ in range(5):
        t = time.perf_counter(); x = a
        for _ in range(20): x = x @ a
        torch.cuda.synchronize(); best = min(best, time.perf_counter() - t)
    print(f"torch bf16 matmul n={n}: {20*2*n**3/best/1e12:.1f} TFLOP/s")
PY
