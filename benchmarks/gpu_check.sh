#!/usr/bin/env bash
# GPU check for a fresh CUDA machine with its own PyTorch and no network:
#   benchmarks/gpu_check.sh OUTDIR
# builds the extension for the visible GPU, runs the CUDA tests and the CUDA benchmark, compute-sanitizer's memcheck
# and racecheck on small inputs, then profiles the scoring kernel and the selection walk with Nsight Compute where
# ncu works: its sections for both, and the tiled scoring kernel's executed instructions per CUDA source line (which
# tell the pixel phase's cost from the window phase's). Writes env.txt (with ptxas' registers and spills),
# build.log, tests.log, bench.log, bench.json, sanitize.log, ncu.txt and ncu_source.csv to OUTDIR (8 files).
# DEADLINE_S (default 400) bounds the whole script: the sanitizer and ncu get what is left.
# Exits non-zero if the build, the tests, the benchmark or the sanitizer fail.
set -uo pipefail
OUT=${1:?usage: benchmarks/gpu_check.sh OUTDIR}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export MAX_JOBS=${MAX_JOBS:-$(nproc)} PYTHONUNBUFFERED=1 FORCE_CUDA=1
{ date -u; nvidia-smi; $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"; } >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

t0=$(date +%s)
deadline=$(( t0 + ${DEADLINE_S:-400} ))
left() { echo $(( deadline - $(date +%s) )); }
if ! NVCC_FLAGS="-Xptxas -v" $PY -m pip install --no-build-isolation --no-deps -v -e . >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"; echo "BUILD FAILED"; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
$PY -c "import dwaca._extension as e; print(e.build_info())" | tee -a "$OUT/env.txt"
# registers, spills and shared memory of every kernel, from ptxas
grep -E "Compiling entry|Used [0-9]+ registers|spill" "$OUT/build.log" >>"$OUT/env.txt" || true

# The CUDA tests: every test parametrised on the cuda device plus the cuda-only ones (not the CPU emulations of the
# CUDA kernels, which CI runs). No -x: one failing test must not hide the results of the others.
# On the H200 image checked on 2026-11-27 (torch 2.11, g++ 13.3 through its /opt/gcc wrapper; ldd lists no libstdc++
# for the extension built there) any C++ exception thrown from the extension killed the process (even a shape check
# of the CPU op), so the bad-input tests, which CI runs, stay out of this selection.
$PY -m pytest -q --maxfail=25 tests/test_ops.py -k "cuda and not emulated" -p no:cacheprovider 2>&1 \
  | tee "$OUT/tests.log"
tests_rc=${PIPESTATUS[0]}

$PY benchmarks/bench_selection.py --device cuda --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log"
bench_rc=${PIPESTATUS[0]}

# sanitizer: "clean" only when both tools ran to the end; a timeout or a skip is reported, not passed
sanitize_rc=0 sanitize="not run (no compute-sanitizer, or under 60 s left)"
if command -v compute-sanitizer >/dev/null && [ "$(left)" -gt 60 ]; then
  sanitize=clean
  for tool in memcheck racecheck; do
    timeout $(( $(left) / 2 )) compute-sanitizer --tool $tool --error-exitcode 3 $PY benchmarks/sanitize_kernels.py \
      >>"$OUT/sanitize.log" 2>&1
    rc=$?; echo "compute-sanitizer $tool rc=$rc" | tee -a "$OUT/sanitize.log"
    if [ $rc -eq 124 ]; then
      [ "$sanitize" = clean ] && sanitize="incomplete ($tool timed out)"
    elif [ $rc -ne 0 ]; then
      sanitize="failed ($tool rc=$rc)" sanitize_rc=$rc
    fi
  done
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|sanitize_kernels" "$OUT/sanitize.log"
fi

if command -v ncu >/dev/null && [ "$(left)" -gt 60 ]; then
  # source view of both launches of the tiled kernel (row reuse, then one pixel at a time) in at most a third of
  # what is left; setup.py's -lineinfo ties the SASS to region_score_tile.h's lines (per SASS line if this ncu cannot
  # print CUDA lines)
  rep=$(mktemp -d)/tiled
  timeout $(( $(left) / 3 )) ncu --clock-control none --kernel-name regex:region_score_tiled --launch-count 2 \
    --section SourceCounters --import-source yes -o "$rep" $PY benchmarks/profile_kernels.py >/dev/null 2>&1 \
    && { ncu -i "$rep.ncu-rep" --page source --print-source cuda --csv >"$OUT/ncu_source.csv" 2>&1 \
         || ncu -i "$rep.ncu-rep" --page source --print-source sass --csv >"$OUT/ncu_source.csv" 2>&1; }
  echo "ncu source view rc=$? ($(cat "$OUT/ncu_source.csv" 2>/dev/null | wc -l) lines in ncu_source.csv)"
fi

if command -v ncu >/dev/null && [ "$(left)" -gt 30 ]; then
  timeout $(( $(left) - 10 )) ncu --clock-control none --kernel-name regex:"region_score|greedy" --launch-count 4 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
    --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SchedulerStats \
    --section InstructionStats \
    $PY benchmarks/profile_kernels.py >"$OUT/ncu.txt" 2>&1
  echo "ncu rc=$? (report in ncu.txt)"
  grep -E "region_score|greedy|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Executed Instructions  " "$OUT/ncu.txt" | head -60
fi
echo "tests rc=$tests_rc bench rc=$bench_rc sanitizer: $sanitize; total $(( $(date +%s) - t0 )) s"
exit $(( tests_rc || bench_rc || sanitize_rc ))
