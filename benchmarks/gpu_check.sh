#!/usr/bin/env bash
# The GPU check this project carries: on a machine with CUDA and napari-dacapo installed (and
# nothing else), prints in under 8 minutes: tiled vs whole-image correctness on the GPU (fp32,
# bf16 with its tolerance), model-alone vs engine throughput (fp32, bf16) for the benchmark net
# and a COSEM-sized net, the share of the device's peak, GPU busy fraction and peak memory.
#     bash benchmarks/gpu_check.sh            (GPU_PEAK_TFLOPS=989 to state the bf16 peak)
set -euo pipefail
cd "$(dirname "$0")"
exec python gpu_check.py "$@"
