#!/usr/bin/env bash
# GPU check for a fresh CUDA machine with its own PyTorch and no network:
#   benchmarks/gpu_check.sh OUTDIR
# builds the extension for the visible GPU, runs the CUDA tests and the CUDA benchmark (each current kernel next to
# its candidate: region_score_candidate, select_regions_candidate), then profiles the scoring kernels and the
# selection walks with Nsight Compute where ncu works. Writes
# env.txt, build.log, resources.log, tests.log, bench.log, bench.json and ncu.txt to OUTDIR. Exits non-zero if the
# build, the tests or the benchmark fail.
set -uo pipefail
OUT=${1:?usage: benchmarks/gpu_check.sh OUTDIR}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export MAX_JOBS=${MAX_JOBS:-$(nproc)} PYTHONUNBUFFERED=1 FORCE_CUDA=1
{ date -u; nvidia-smi; $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"; } >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

t0=$(date +%s)
if ! NVCC_FLAGS="-Xptxas -v" $PY -m pip install --no-build-isolation --no-deps -v -e . >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"; echo "BUILD FAILED"; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
$PY -c "import dwaca._extension as e; print(e.build_info())" | tee -a "$OUT/env.txt"
# registers, spills and shared memory of every kernel, from ptxas
grep -E "Compiling entry|Used [0-9]+ registers|spill" "$OUT/build.log" >"$OUT/resources.log" || true

# The CUDA tests: every test parametrised on the cuda device plus the cuda-only ones.
# No -x: a failing candidate test must not hide the results of the others.
$PY -m pytest -q --maxfail=25 tests/test_ops.py -k "cuda" -p no:cacheprovider 2>&1 | tee "$OUT/tests.log"
tests_rc=${PIPESTATUS[0]}

$PY benchmarks/bench_selection.py --device cuda --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"
bench_rc=${PIPESTATUS[0]}

if command -v ncu >/dev/null; then
  timeout 240 ncu --clock-control none --kernel-name regex:"region_score|greedy" --launch-count 4 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
    --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SchedulerStats \
    $PY benchmarks/profile_kernels.py >"$OUT/ncu.txt" 2>&1
  echo "ncu rc=$? (report in ncu.txt)"
  grep -E "region_score|greedy|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Registers Per" "$OUT/ncu.txt" | head -60
fi
echo "tests rc=$tests_rc bench rc=$bench_rc"
exit $(( tests_rc || bench_rc ))
