"""The version of fmtlib (pyproject.toml holds the same string), in a module of its own so that
any layer can read it without importing the package's re-exports."""
__version__ = "0.1.0"
