"""Fast backends. ``cpu`` holds the Numba kernels; nothing here compiles at import time."""
