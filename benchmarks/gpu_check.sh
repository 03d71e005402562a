#!/usr/bin/env bash
# GPU check for a fresh CUDA machine with its own PyTorch and no network:
#   benchmarks/gpu_check.sh OUTDIR
# builds the extension for the visible GPU, runs the CUDA tests and the benchmark, and writes build.log,
# tests.log, bench.log, bench.json and env.txt to OUTDIR. Exits non-zero if the build or the tests fail.
set -uo pipefail
OUT=${1:?usage: benchmarks/gpu_check.sh OUTDIR}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export MAX_JOBS=${MAX_JOBS:-$(nproc)} PYTHONUNBUFFERED=1 FORCE_CUDA=1
{ date -u; nvidia-smi; $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"; } >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

t0=$(date +%s)
if ! $PY -m pip install --no-build-isolation --no-deps -e . >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"; echo "BUILD FAILED"; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
$PY -c "import dwaca._extension as e; print(e.build_info())" | tee -a "$OUT/env.txt"

# The CUDA tests: every test parametrised on the cuda device plus the cuda-only ones.
$PY -m pytest -q -x tests/test_ops.py -k "cuda" -p no:cacheprovider 2>&1 | tee "$OUT/tests.log"
tests_rc=${PIPESTATUS[0]}

$PY benchmarks/bench_selection.py --device all --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"
bench_rc=${PIPESTATUS[0]}
echo "tests rc=$tests_rc bench rc=$bench_rc"
exit $(( tests_rc || bench_rc ))
