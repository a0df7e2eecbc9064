"""``Accumulate``: how a matrix product sums its terms, declared with every parameter explicit.

>>> Accumulate("fp32", chunk=32)
Accumulate('fp32', chunk=32)
>>> Accumulate("exact").get_config()
{'model': 'exact'}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..catalog import parse_format
from ..formats import FloatFormat
from ..rounding import Rounding

INNER = ("exact", "sequential", "pairwise")
_DETERMINISTIC = (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.TOWARD_ZERO, Rounding.DOWN, Rounding.UP,
                  Rounding.ODD, Rounding.FLOOR_ON_OVERFLOW)


@dataclass(frozen=True, init=False)
class Accumulate:
    """An accumulation model for :func:`fmtlib.ops.matmul`.

    A *term* is one product of two elements, or for block-scaled operands one scale block's
    products summed exactly and multiplied by the two block scales. K is walked in order.

    - ``Accumulate("exact")``: the exact sum of all terms, rounded once to the output.
    - ``Accumulate(fmt, chunk=c, inner=..., rounding=...)``: an accumulator in float format
      ``fmt`` (``"fp32"``, ``"bf16"``, ``"fp16"``, a reduced ``"e8m13"``, ...) starts at 0.
      K is cut into chunks of ``c`` elements (default: one term per chunk, a chain of fused
      multiply-adds); each chunk's terms are summed by ``inner`` and the chunk sum ``C`` is
      added with ``acc = rnd(acc + C)``, one rounding of the exact sum. ``inner``:

      - ``"exact"`` (default): ``C`` is the exact sum, as a tensor core's MMA step adds its
        products and the accumulator in one wide sum;
      - ``"sequential"``: ``C = rnd(...rnd(rnd(T1) + T2)... + Tn)`` from 0;
      - ``"pairwise"``: terms rounded to ``fmt``, then adjacent pairs added level by level
        (each add rounded; an odd one out moves up unchanged).

      ``rnd`` rounds to ``fmt``'s precision with ``rounding`` (nearest-even by default;
      ``"toward_zero"`` models truncating accumulators), gradual underflow, and IEEE overflow
      (inf; directed modes stop at the largest finite value where IEEE 754 says so).
    """

    model: str
    format: FloatFormat | None
    rounding: Rounding
    chunk: int | None
    inner: str

    def __init__(self, model: str | FloatFormat = "fp32", *, chunk: int | None = None, inner: str = "exact",
                 rounding: Rounding | str = "nearest_even") -> None:
        if isinstance(model, str) and model.strip().lower() == "exact":
            if chunk is not None or inner != "exact" or Rounding.parse(rounding) is not Rounding.NEAREST_EVEN:
                raise ValueError("Accumulate('exact') takes no chunk, inner or rounding: it rounds once, to the output")
            fmt, kind = None, "exact"
        else:
            fmt = parse_format(model) if isinstance(model, str) else model
            if not isinstance(fmt, FloatFormat):
                raise TypeError(f"an accumulator is 'exact' or a float format, got {model!r}")
            if fmt.specials != "ieee" or not fmt.signed or not fmt.subnormals:
                raise ValueError(f"an accumulator format needs IEEE-style inf, NaN, sign and subnormals; {fmt} has not")
            if fmt.mbits + 1 > 51:
                raise ValueError(f"accumulator formats hold at most 51 significant bits; {fmt} has {fmt.mbits + 1}")
            if fmt.emax > 600 or fmt.emin - fmt.mbits < -600:
                raise ValueError(f"accumulator format {fmt} has a range beyond 2**+-600")
            kind = "float"
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
            raise ValueError(f"chunk must be a positive int or None, got {chunk!r}")
        if inner not in INNER:
            raise ValueError(f"unknown inner {inner!r} (choose from {', '.join(INNER)})")
        mode = Rounding.parse(rounding)
        if mode not in _DETERMINISTIC:
            raise ValueError(f"accumulator rounding must be deterministic, got {mode.name.lower()}")
        for k, v in dict(model=kind, format=fmt, rounding=mode, chunk=chunk, inner=inner).items():
            object.__setattr__(self, k, v)

    @classmethod
    def parse(cls, spec: "Accumulate | str | dict") -> "Accumulate":
        """An Accumulate from itself, a model string (``"exact"``, ``"fp32"``) or a config."""
        if isinstance(spec, Accumulate):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        if isinstance(spec, dict):
            return cls.from_config(spec)
        raise TypeError(f"accumulate must be an Accumulate, a string or a config dict, got {type(spec).__name__}")

    @property
    def exact(self) -> bool:
        return self.model == "exact"

    def get_config(self) -> dict[str, Any]:
        """JSON-safe config; :meth:`from_config` inverts it."""
        if self.exact:
            return {"model": "exact"}
        name = self.format.name
        cfg: dict[str, Any] = {"model": name if name and parse_format(name) == self.format else self.format.spec_string()}
        if self.chunk is not None:
            cfg["chunk"] = self.chunk
        if self.inner != "exact":
            cfg["inner"] = self.inner
        if self.rounding is not Rounding.NEAREST_EVEN:
            cfg["rounding"] = self.rounding.name.lower()
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Accumulate":
        if not isinstance(config, dict) or "model" not in config:
            raise ValueError(f"an Accumulate config is a dict with 'model', got {config!r}")
        extra = set(config) - {"model", "chunk", "inner", "rounding"}
        if extra:
            raise ValueError(f"unknown Accumulate config keys: {sorted(extra)}")
        kw = {k: v for k, v in config.items() if k != "model"}
        return cls(config["model"], **kw)

    def __repr__(self) -> str:
        cfg = self.get_config()
        args = [repr(cfg.pop("model"))] + [f"{k}={v!r}" for k, v in cfg.items()]
        return f"Accumulate({', '.join(args)})"
