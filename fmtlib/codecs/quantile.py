"""``Quantile``: a k-bit index into a sorted table of levels (NF4, bitsandbytes FP4, dynamic
maps, quantiles of data).

>>> import numpy as np
>>> q = Quantile.nf4()
>>> q.encode(np.array([-1.0, 0.0, 0.1, 0.9], np.float32))
array([ 0,  7,  8, 15], dtype=uint8)
>>> q.quantize(np.array([0.3], np.float32))
array([0.33791524], dtype=float32)
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from .. import codebooks
from .._arrays import as_float_input, bits_view, check_out, float_dtype
from ..rounding import Rounding
from . import device, nans
from .base import Codec
from .records import Packed, pack_codes, unpack_codes
from .stochastic import check_index_offset, random_args

#: Largest number of random bits stochastic rounding between levels takes.
MAX_RBITS = 29
#: Rounding modes a code book follows.
MODES = (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.TOWARD_ZERO, Rounding.DOWN, Rounding.UP,
         Rounding.STOCHASTIC)
#: profile= names of the built-in tables.
PROFILES = ("exact", "bitsandbytes")
_CHUNK = 1 << 20


def nan_index(levels) -> int:
    """The index NaN becomes: the level of least magnitude, the positive one of a +-pair.

    >>> nan_index([-1.0, -0.25, 0.25, 1.0])
    2
    """
    least = min(abs(v) for v in levels)
    return max(i for i, v in enumerate(levels) if abs(v) == least)   # levels increase: the last is >= 0


def _f32(v) -> float:
    """``v`` rounded to the nearest float32, as a Python float."""
    return float(np.float32(v))


def bnb_thresholds(levels) -> list[float]:
    """bitsandbytes' decision points: fl32(fl32(a + b) / 2) for neighbouring levels (the
    CUDA kernels' literal constants and the torch backend's ``(code[:-1] + code[1:]) / 2``)."""
    lv = np.asarray(levels, dtype=np.float32)
    return ((lv[:-1] + lv[1:]) / np.float32(2)).astype(np.float64).tolist()


def _dd(t: Fraction) -> tuple[float, float]:
    """(hi, lo): hi the nearest double to t, lo = t - hi exactly."""
    hi = float(t)
    lo = float(t - Fraction(hi))
    if Fraction(hi) + Fraction(lo) != t:
        raise ValueError(f"threshold {t} is not a double-double")
    return hi, lo


class Quantile(codebooks.LevelTable, device.RunsOnDevice, Codec):
    """Codes index ``levels``, a strictly increasing table of float32 values.

    - ``bits``: code width (default: the fewest that hold the table); ``codes``: the code of
      each level (default 0, 1, ...); ``aliases``: extra codes that decode to a level's value
      but that encode never produces (bitsandbytes FP4's ``-0``, code 8).
    - ``rounding``: ``nearest_even`` (ties to the even index), ``nearest_away`` (ties to the
      larger magnitude), ``down``, ``up``, ``toward_zero``, ``stochastic`` (the upper
      neighbour with probability (y - a) / (b - a)); see :func:`fmtlib.reference.quantile.quantile_index`.
    - ``thresholds``: decision points replacing the exact midpoints of the nearest modes; a
      value equal to one goes below (bitsandbytes: :func:`bnb_thresholds`).
    - Values beyond the end levels (and ±inf) become the end levels; NaN becomes the level of
      least magnitude (:func:`nan_index`), or, with ``nan="raise"``, a ValueError
      (``"warn"``: a warning).

    Levels are rounded to float32 (as bitsandbytes stores its tables); ``-0.0`` and ``0.0``
    are the same level.
    """

    codec_id = "quantile"

    def __init__(self, levels, bits: int | None = None, *, codes=None, aliases: dict | None = None,
                 thresholds=None, rounding: Rounding | str = "nearest_even", name: str | None = None,
                 nan: str = "ignore") -> None:
        lv = [_f32(v) for v in np.asarray(levels, dtype=np.float64).reshape(-1).tolist()]
        n = len(lv)
        if n < 2:
            raise ValueError(f"a code book needs at least 2 levels, got {n}")
        if not all(np.isfinite(lv)):
            raise ValueError("levels must be finite")
        for a, b in zip(lv, lv[1:]):
            if not a < b:
                what = "duplicate" if a == b else "unsorted"
                raise ValueError(f"levels must be strictly increasing (as float32): {what} levels {a!r}, {b!r}")
        if any(v != 0 and not 2.0 ** -126 <= abs(v) <= 2.0 ** 126 for v in lv):
            raise ValueError("non-zero levels must have magnitudes in [2**-126, 2**126]")
        need = max(1, (n - 1).bit_length())
        if bits is None:
            bits = need
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
            raise ValueError(f"bits must be an int in 1..16, got {bits!r}")
        if n > 1 << bits:
            raise ValueError(f"{n} levels do not fit {bits}-bit codes (at most {1 << bits})")
        code_of = list(range(n)) if codes is None else [int(c) for c in np.asarray(codes).reshape(-1)]
        if len(code_of) != n:
            raise ValueError(f"codes has {len(code_of)} entries for {n} levels")
        alias = {int(k): _f32(v) for k, v in (aliases or {}).items()}
        used = code_of + list(alias)
        if len(set(used)) != len(used) or any(not 0 <= c < (1 << bits) for c in used):
            raise ValueError(f"codes and aliases must be distinct codes in 0..{(1 << bits) - 1}")
        for c, v in alias.items():
            if v not in lv:
                raise ValueError(f"alias {c} decodes to {v}, which is not a level")
        mode = Rounding.parse(rounding)
        if mode not in MODES:
            raise ValueError(f"rounding {mode.name.lower()!r} does not apply to a code book (choose from "
                             f"{', '.join(m.name.lower() for m in MODES)})")
        thr = None
        if thresholds is not None:
            thr = [float(t) for t in np.asarray(thresholds, dtype=np.float64).reshape(-1)]
            if len(thr) != n - 1:
                raise ValueError(f"thresholds needs {n - 1} entries (one between each pair of levels), got {len(thr)}")
            if any(not lv[k] <= thr[k] <= lv[k + 1] for k in range(n - 1)):
                raise ValueError("threshold k must lie between levels k and k + 1")
            if any(not a < b for a, b in zip(thr, thr[1:])):
                raise ValueError("thresholds must be strictly increasing")
            if mode is Rounding.NEAREST_AWAY:
                raise ValueError("thresholds decide ties themselves: use rounding='nearest_even' with them")
        for k, v in dict(levels=tuple(lv), bits=bits, codes=tuple(code_of), aliases=alias,
                         thresholds=None if thr is None else tuple(thr), rounding=mode, name=name,
                         nan=nans.parse(nan)).items():
            object.__setattr__(self, k, v)

    # -- built-in tables ---------------------------------------------------------------------------
    @classmethod
    def nf4(cls, profile: str = "exact", **kw) -> "Quantile":
        """NF4 (QLoRA): bitsandbytes' 16 levels, code = index. ``profile="bitsandbytes"`` takes
        its decision points (float32 midpoints, ties below) instead of the exact midpoints."""
        return cls._built(codebooks.nf4_levels(), "nf4", profile, kw)

    @classmethod
    def fp4(cls, profile: str = "exact", **kw) -> "Quantile":
        """bitsandbytes FP4: E2M1 with bias 2 in its own code order, divided by 12; code 8
        (``-0``) decodes to -0.0 and is never produced (its CUDA kernel writes it for tiny
        negative inputs, its torch backend does not)."""
        lv, codes = codebooks.fp4_levels()
        keep = [k for k, v in enumerate(lv) if not (v == 0 and np.signbit(v))]
        return cls._built([lv[k] for k in keep], "fp4", profile,
                          dict(kw, codes=[codes[k] for k in keep], aliases={8: -0.0}), bits=4)

    @classmethod
    def dynamic(cls, profile: str = "exact", **kw) -> "Quantile":
        """bitsandbytes' signed 8-bit dynamic map (its ``create_dynamic_map()`` table, exactly)."""
        return cls._built(codebooks.dynamic_levels(), "dynamic", profile, kw)

    @classmethod
    def dynamic_exponent(cls, bits: int = 8, signed: bool = True, max_exponent_bits: int = 7,
                         **kw) -> "Quantile":
        """Dettmers' dynamic-exponent map of any width, built by :func:`fmtlib.codebooks.dynamic_exponent_levels`."""
        return cls(codebooks.dynamic_exponent_levels(bits, signed, max_exponent_bits), bits, **kw)

    @classmethod
    def normal(cls, bits: int = 4, offset: float = 0.9677083, symmetric: bool = False, **kw) -> "Quantile":
        """NormalFloat with ``bits`` bits (NF3, NF4, NF5, ...): :func:`fmtlib.codebooks.normal_levels`."""
        kw.setdefault("name", f"nf{bits}" if offset == 0.9677083 and not symmetric else None)
        return cls(codebooks.normal_levels(bits, offset, symmetric), bits, **kw)

    @classmethod
    def from_data(cls, x, bits: int = 4, *, normalize: bool = True, **kw) -> "Quantile":
        """Levels at the 2**bits quantiles of a sample (SRAM-quantiles style): the midpoints
        of 2**bits + 1 equally spaced quantiles of ``x`` (linear interpolation), divided by
        their largest magnitude when ``normalize``. Quantiles that coincide in float32 are
        merged, so a table may have fewer levels than 2**bits."""
        a = np.asarray(x, dtype=np.float64).reshape(-1)
        a = a[np.isfinite(a)]
        if a.size < 2:
            raise ValueError("from_data needs at least 2 finite values")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
            raise ValueError(f"bits must be an int in 1..16, got {bits!r}")
        q = np.quantile(a, np.linspace(0.0, 1.0, (1 << bits) + 1))
        lv = (q[:-1] + q[1:]) / 2
        if normalize:
            m = np.abs(lv).max()
            lv = lv / m if m > 0 else lv
        lv = np.unique(lv.astype(np.float32)).astype(np.float64)
        lv = lv[(lv == 0) | (np.abs(lv) >= 2.0 ** -126)]
        return cls(lv, bits, **kw)

    @classmethod
    def _built(cls, levels, name, profile, kw, bits=None) -> "Quantile":
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
        if profile == "bitsandbytes":
            kw = dict(kw, thresholds=bnb_thresholds(levels))
            name = f"{name}_bnb"
        return cls(levels, bits, name=name, **kw)

    # -- config ----------------------------------------------------------------------------------
    def _config_args(self):
        kw: dict[str, Any] = {}
        if self.bits != max(1, (len(self.levels) - 1).bit_length()):
            kw["bits"] = self.bits
        if list(self.codes) != list(range(len(self.levels))):
            kw["codes"] = list(self.codes)
        if self.aliases:
            kw["aliases"] = {str(k): v for k, v in self.aliases.items()}
        if self.thresholds is not None:
            kw["thresholds"] = list(self.thresholds)
        if self.rounding is not Rounding.NEAREST_EVEN:
            kw["rounding"] = self.rounding.name.lower()
        if self.name is not None:
            kw["name"] = self.name
        if self.nan != "ignore":
            kw["nan"] = self.nan
        return (list(self.levels),), kw

    def __repr__(self) -> str:
        """``Quantile.nf4()`` style for the built-in tables, else the full constructor call."""
        if self.name is not None:
            base, _, prof = self.name.partition("_")
            call = {"nf4": "nf4", "fp4": "fp4", "dynamic": "dynamic"}.get(base)
            args = [repr("bitsandbytes")] if prof == "bnb" else []
            if call is None and base.startswith("nf") and base[2:].isdigit():
                call, args = "normal", [base[2:]]
            if call is not None:
                if self.rounding is not Rounding.NEAREST_EVEN:
                    args.append(f"rounding={self.rounding.name.lower()!r}")
                if self.nan != "ignore":
                    args.append(f"nan={self.nan!r}")
                text = f"Quantile.{call}({', '.join(args)})"
                if eval(text, {"Quantile": Quantile}) == self:
                    return text
        return super().__repr__()

    def with_rounding(self, rounding: Rounding | str) -> "Quantile":
        """The same table with another default rounding mode."""
        cfg = self.get_config()
        cfg["rounding"] = Rounding.parse(rounding).name.lower()
        return type(self).from_config(cfg)

    @classmethod
    def from_config(cls, config):
        """The codec of a config; JSON object keys are strings, so alias codes are read back as ints."""
        cfg = dict(config)
        aliases = cfg.get("aliases")
        if aliases is not None:
            if not isinstance(aliases, dict):
                raise TypeError(f"aliases must be a dict of code -> value, got {type(aliases).__name__}")
            try:
                cfg["aliases"] = {int(k): v for k, v in aliases.items()}
            except (TypeError, ValueError):
                raise ValueError(f"alias codes must be integers, got {list(aliases)!r}") from None
        return super().from_config(cfg)

    # -- properties ------------------------------------------------------------------------------
    @property
    def format(self) -> codebooks.CodeBook:
        """The table as a format descriptor (levels, codes, bits, aliases, name)."""
        return codebooks.CodeBook(self.levels, self.codes, self.bits, tuple(sorted(self.aliases.items())), self.name)

    @property
    def amax(self) -> float:
        """Largest level magnitude (what a block scale maps the block's amax to)."""
        return max(abs(self.levels[0]), abs(self.levels[-1]))

    @property
    def bits_per_element(self) -> float:
        return float(self.bits)

    # -- kernel tables ---------------------------------------------------------------------------
    def _tables(self) -> dict:
        """Threshold tables for the kernels, built once per codec."""
        cache = self.__dict__.get("_k")
        if cache is not None:
            return cache
        L = [Fraction(v) for v in self.levels]
        n = len(L)
        hi, lo, even, away = [], [], [], []
        for k in range(n - 1):
            t = Fraction(self.thresholds[k]) if self.thresholds is not None else (L[k] + L[k + 1]) / 2
            h, low = _dd(t)
            hi.append(h)
            lo.append(low)
            # where a tie goes: 0 below, 1 above, 2 by the sign bit; thresholds send ties below
            even.append(0 if self.thresholds is not None else k % 2)
            away.append(0 if abs(L[k]) > abs(L[k + 1]) else 1 if abs(L[k]) < abs(L[k + 1]) else 2)
        lv = np.array(self.levels, dtype=np.float64)
        zeros = np.zeros(n - 1)
        # the nearest thresholds padded with +inf to 16, for the branch-free search of tables of
        # at most 16 levels (fmtlib.kernels.cpu.codebook._book_nearest); empty for larger ones
        h16 = np.array(hi + [np.inf] * (16 - len(hi)) if n <= 16 else [], dtype=np.float64)
        cache = dict(lv=lv, hi=np.array(hi), lo=np.array(lo), tie=np.array(even, dtype=np.int8), h16=h16,
                     tie_away=np.array(away, dtype=np.int8),
                     dhi=lv[1:].copy(), dlo=zeros, dtie=np.ones(n - 1, dtype=np.int8),
                     uhi=lv[:-1].copy(), ulo=zeros.copy(), utie=np.zeros(n - 1, dtype=np.int8),
                     code_of=np.array(self.codes, dtype=self.code_dtype), nan_index=nan_index(self.levels))
        self.__dict__["_k"] = cache
        return cache

    def _lut(self, mode: int) -> np.ndarray:
        """Level index per float32 top-16-bit prefix where the whole prefix shares one (-1
        elsewhere, and for inf/NaN prefixes), for a deterministic ``mode``; built once."""
        key = f"_lut{mode}"
        if key not in self.__dict__:
            from ..kernels.cpu import codebook as K

            T = self._tables()
            tie = T["tie_away"] if mode == int(Rounding.NEAREST_AWAY) else T["tie"]
            p = np.arange(1 << 16, dtype=np.uint32) << 16
            ends = []
            for bits in (p, p | 0xFFFF):
                idx = np.empty(bits.size, dtype=np.int64)
                K.quantile_encode(bits.view(np.float32), idx, idx[:0], idx, np.arange(len(self.levels)), mode,
                                  T["lv"], T["hi"], T["lo"], tie, T["dhi"], T["dlo"], T["dtie"], T["uhi"], T["ulo"],
                                  T["utie"], T["nan_index"], np.uint64(0), 0, 1, np.zeros(1, np.int64), False, False)
                ends.append(idx)
            finite = (p >> 23 & 0xFF) != 0xFF
            self.__dict__[key] = np.where((ends[0] == ends[1]) & finite, ends[0], -1).astype(np.int16)
        return self.__dict__[key]

    def _mode_id(self, rounding) -> int:
        mode = self.rounding if rounding is None else Rounding.parse(rounding)
        if mode not in MODES:
            raise ValueError(f"rounding {mode.name.lower()!r} does not apply to a code book")
        if self.thresholds is not None and mode is Rounding.NEAREST_AWAY:
            raise ValueError("this table has thresholds: its nearest mode is rounding='nearest_even'")
        return int(mode)

    def value_table(self, dtype=np.float64) -> np.ndarray:
        """Value of every code (``2**bits`` entries; NaN for unused codes) as ``dtype``."""
        dt = float_dtype(dtype)
        vals = np.full(self.num_codes, np.nan)
        vals[list(self.codes)] = self.levels
        for c, v in self.aliases.items():
            vals[c] = v
        return vals.astype(np.float32).astype(dt)  # levels are float32: one rounding at most

    def _random(self, mode, x, seed, rbits, rand, index_offset, xp=np):
        """(key, rbits, flat int64 rand or None), checked; ``xp``: the array module of x and rand
        (cupy on the GPU). With ``rand``, ``rbits`` defaults to 29 (as in earlier releases)."""
        check_index_offset(index_offset)
        key, rbits, rand = random_args(Rounding(mode), x.shape, seed, rbits, rand, MAX_RBITS, rand_rbits=MAX_RBITS,
                                       xp=xp)
        return key, rbits, None if rand is None else xp.ascontiguousarray(rand).astype(np.int64, copy=False).reshape(-1)

    # -- the codec surface -----------------------------------------------------------------------
    # --- the same methods on the GPU (cupy data; called by fmtlib._interop.interop) -------
    def _device_run(self, fused: bool, x, **opts):
        nans.check(self.nan, x, repr(self))
        return device.quantile_run(self, fused, x, **opts)

    def _device_decode(self, codes, dtype, out):
        return device.quantile_decode(self, codes, dtype if out is None else out.dtype, out)

    def _run(self, x, fused, rounding, seed, rbits, rand, index_offset, out):
        from ..kernels.cpu import codebook as K

        x, scalar = as_float_input(x, "quantize" if fused else "encode")
        if self.nan != "ignore":
            nans.check(self.nan, x, repr(self))
        mode = self._mode_id(rounding)
        key, rbits, rarr = self._random(mode, x, seed, rbits, rand, index_offset)
        T = self._tables()
        res = check_out(out, x, x.dtype if fused else self.code_dtype)
        flat = x.reshape(-1)
        dst = bits_view(res) if fused else res.reshape(-1)
        vals = bits_view(self.value_table(x.dtype)[list(self.codes)]) if fused else dst[:0]
        tie = T["tie_away"] if mode == int(Rounding.NEAREST_AWAY) else T["tie"]
        direct = x.dtype in (np.float32, np.float64)
        dummy = np.zeros(1, dtype=np.int64)
        step = flat.size if direct else _CHUNK
        lut = self._lut(mode) if mode != int(Rounding.STOCHASTIC) and x.dtype != np.float64 else None
        for c in range(0, flat.size, max(step, 1)):
            src = flat[c:c + step] if direct else flat[c:c + step].astype(np.float32)
            if lut is not None:
                K.quantile_encode_lut(src, dst[c:c + step], vals, dst[c:c + step], T["code_of"], lut, mode, T["lv"],
                                      T["hi"], T["lo"], tie, T["dhi"], T["dlo"], T["dtie"], T["uhi"], T["ulo"],
                                      T["utie"], T["nan_index"], fused)
                continue
            K.quantile_encode(src, dst[c:c + step], vals, dst[c:c + step], T["code_of"], mode, T["lv"], T["hi"],
                              T["lo"], tie, T["dhi"], T["dlo"], T["dtie"], T["uhi"], T["ulo"], T["utie"],
                              T["nan_index"], np.uint64(key), int(index_offset) + c, rbits,
                              dummy if rarr is None else rarr[c:c + step], rarr is not None, fused)
        return res[()] if scalar and res.ndim == 0 else res

    def encode(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
               rbits: int | None = None, rand=None, index_offset: int = 0,
               out: np.ndarray | None = None) -> np.ndarray:
        """Codes (uint8, uint16 above 8 bits) of float data ``x``; options as
        :meth:`fmtlib.FP.encode` (stochastic: at most 29 random bits, default 29).

        >>> Quantile([-1.0, 0.0, 0.5, 1.0]).encode(np.array([0.25, 0.3, 7.0]))
        array([2, 2, 3], dtype=uint8)
        """
        return self._run(x, False, rounding, seed, rbits, rand, index_offset, out)

    def quantize(self, x, *, rounding: Rounding | str | None = None, seed: int | None = None,
                 rbits: int | None = None, rand=None, index_offset: int = 0, out: np.ndarray | None = None):
        """``decode(encode(x))`` in one pass, in ``x``'s dtype (levels rounded to it if needed)."""
        return self._run(x, True, rounding, seed, rbits, rand, index_offset, out)

    def check_codes(self, codes) -> np.ndarray:
        """``codes`` as a C-contiguous integer array; raises for non-integers, codes beyond
        ``bits`` and codes the table does not use."""
        c = np.asarray(codes)
        if c.dtype.kind not in "iu":
            raise TypeError(f"codes must be an integer array, got dtype {c.dtype}")
        if c.dtype.byteorder not in "=|":
            c = c.astype(c.dtype.newbyteorder("="))
        c = c if c.flags.c_contiguous else c.copy()
        if c.size:
            lo, hi = int(c.min()), int(c.max())
            if lo < 0 or hi >= self.num_codes:
                raise ValueError(f"code {lo if lo < 0 else hi} out of range for {self.bits}-bit codes")
            known = np.zeros(self.num_codes, dtype=bool)
            known[list(self.codes) + list(self.aliases)] = True
            if not known.all():   # a table using every code (NF4, FP4, ...) needs no look-up
                bad = ~known[c]
                if bad.any():
                    raise ValueError(f"code {int(c[bad].flat[0])} is not used by this table")
        return c

    def decode(self, codes, dtype=np.float32, *, out: np.ndarray | None = None) -> np.ndarray:
        """Level values of ``codes`` as ``dtype`` (into ``out`` when given: C-contiguous, the
        codes' shape).

        >>> Quantile.nf4().decode(np.array([0, 7, 15], np.uint8))
        array([-1.,  0.,  1.], dtype=float32)
        """
        scalar = np.isscalar(codes)
        c = self.check_codes(codes)
        table = self.value_table(dtype if out is None else out.dtype)
        if out is None:
            out = table[c]
            return out[()] if scalar and out.ndim == 0 else out
        np.take(table, c, out=check_out(out, c, table.dtype))
        return out

    def _packed_format(self) -> str:
        """:attr:`Packed.format` of this table's records: a digest of every code's value."""
        import hashlib

        return "quantile:" + hashlib.sha256(self.value_table(np.float64).tobytes()).hexdigest()[:16]

    def pack(self, x, *, layout=None, **opts) -> Packed:
        """``encode(x, **opts)`` packed by ``layout`` (default: ``fp4x2`` for 4-bit codes; use
        ``"fp4x2_hi"`` for bitsandbytes' first-element-high order), as a :class:`~fmtlib.Packed`
        record."""
        return pack_codes(self.encode(x, **opts), layout, self.bits, self._packed_format())

    def unpack(self, packed, *args, dtype=None, out: np.ndarray | None = None, layout=None) -> np.ndarray:
        """``unpack(packed, dtype=np.float32, *, out=None)``: values of a :class:`~fmtlib.Packed`
        record; the older ``unpack(buf, shape, *, layout=None, dtype=np.float32)`` still works."""
        codes, dtype = unpack_codes(packed, args, dtype, layout, self.bits, self._packed_format())
        return self.decode(codes, np.float32 if dtype is None else dtype, out=out)

    def values(self) -> np.ndarray:
        """Value of every code in code order, as float64 (NaN for unused codes)."""
        return self.value_table(np.float64)

    def table(self) -> np.ndarray:
        """Every used code with its bit string and value, in code order."""
        vals = self.values()
        used = np.flatnonzero(~np.isnan(vals))
        rows = np.empty(used.size, dtype=[("code", "u4"), ("bits", f"U{self.bits}"), ("value", "f8")])
        rows["code"] = used
        rows["bits"] = [format(int(c), f"0{self.bits}b") for c in used]
        rows["value"] = vals[used]
        return rows
