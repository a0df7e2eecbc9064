"""What every file in tests/gpu starts with: ``cupy`` (the file is skipped, with the reason,
when cupy is not installed) and ``pytestmark`` (its tests skip, with the reason, when no CUDA
device answers). Use: ``from gpu_device import cupy, pytestmark``."""
import pytest

cupy = pytest.importorskip("cupy", reason="cupy is not installed (pip install 'fmtlib[gpu]')")


def _devices() -> int:
    try:
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:   # no driver, no device
        return 0


pytestmark = pytest.mark.skipif(_devices() == 0, reason="no CUDA device")
