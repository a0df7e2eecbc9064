#!/usr/bin/env bash
# The GPU checks in one bounded run, for a machine with a CUDA device, cupy, numba, ml_dtypes,
# pytest and pytest-xdist (the device tool's nvidia-h200 image has them all):
#
#     bash benchmarks/device_check.sh            # logs into $OUT, or ./device-out
#
# 1. the device and the versions it ran with;
# 2. `pytest tests/gpu`: every GPU codec method against the CPU codec, bit for bit;
# 3. `benchmarks/bench_gpu.py`: GB/s of each GPU kernel against the device's copy bandwidth.
# Each step has its own time limit so that one slow step still leaves the others' logs.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-device-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export NUMBA_CACHE_DIR=${NUMBA_CACHE_DIR:-/tmp/fmtlib-numba}
PY=${PYTHON:-python3}
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    $PY -c "import sys, numpy, numba, ml_dtypes, cupy; print('python', sys.version.split()[0], '| numpy',
numpy.__version__, '| numba', numba.__version__, '| ml_dtypes', ml_dtypes.__version__, '| cupy', cupy.__version__,
'| CUDA runtime', cupy.cuda.runtime.runtimeGetVersion())"
    nproc
} 2>&1 | tee "$OUT/device.txt"
# xdist spreads the CPU side's Numba compilation over the machine's cores
timeout "${GPU_TEST_LIMIT:-330}" $PY -m pytest tests/gpu -q -rs -n "${GPU_TEST_WORKERS:-8}" 2>&1 | tee "$OUT/pytest.log"
tests_rc=${PIPESTATUS[0]}
timeout "${GPU_BENCH_LIMIT:-150}" $PY benchmarks/bench_gpu.py --n "${GPU_BENCH_N:-28}" 2>&1 | tee "$OUT/bench.log"
bench_rc=${PIPESTATUS[0]}
echo "pytest tests/gpu: exit $tests_rc; bench_gpu: exit $bench_rc" | tee -a "$OUT/device.txt"
[ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
