"""``python -m benchmarks``: the benchmark suite (benchmarks/suite.py)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # the scripts import each other by name

import suite  # noqa: E402

suite.main()
