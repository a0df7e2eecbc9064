"""The codec contract, in the style of numcodecs.

A codec is an immutable, hashable, picklable object built from plain data:

* ``encode(x, **opts) -> codes``: float data to integer bit patterns;
* ``decode(codes, dtype=np.float32) -> values``;
* ``quantize(x, **opts) -> values``: encode then decode, fused, same dtype as ``x``;
* ``get_config() -> dict``: JSON-safe, with ``"id"``; ``from_config(config)`` inverts it;
* equality and hash by config; ``repr`` that ``eval`` turns back into an equal codec.

Subclasses set ``codec_id`` and implement ``_config_args()``; :mod:`fmtlib.registry`
maps ids and names back to codecs. The methods and keywords every codec has (pack, unpack,
``out=``, ``rand=``, ...) are written down once in :mod:`fmtlib.codecs.protocol`.
"""
from __future__ import annotations

import json
from typing import Any, ClassVar

from .ids import _CODECS, codec_class, codec_ids  # noqa: F401  (codec_class, codec_ids: re-exported)


class Codec:
    """Base class: config, equality, hashing, repr and pickling from ``get_config``."""

    codec_id: ClassVar[str] = ""
    #: whether ``decode`` gives float values (and so takes ml_dtypes' float8/6/4 dtypes)
    _decodes_floats: ClassVar[bool] = True

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.codec_id:
            _CODECS[cls.codec_id] = cls
        from .._interop import interop
        from .small_floats import host_small_floats, small_float_output

        for name in ("encode", "quantize", "decode"):   # torch / DLPack arrays in, the same kind out
            if name in cls.__dict__:
                method = cls.__dict__[name]
                if name == "decode":   # dtype=ml_dtypes.float8_e4m3fn and the other small floats
                    method = small_float_output(method)
                setattr(cls, name, interop(method))
        if "_device_decode" in cls.__dict__:   # the small floats are made on the host only
            cls._device_decode = host_small_floats(cls.__dict__["_device_decode"])

    # subclasses: return (positional args, keyword args) that rebuild the codec
    def _config_args(self) -> tuple[tuple, dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """JSON-safe config with ``"id"``; :func:`fmtlib.from_config` rebuilds the codec."""
        args, kwargs = self._config_args()
        cfg = {"id": self.codec_id}
        if args:
            cfg["args"] = list(args)
        cfg.update(kwargs)
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Codec":
        cfg = dict(config)
        cid = cfg.pop("id", cls.codec_id)
        if cid != cls.codec_id:
            raise ValueError(f"config id {cid!r} does not match {cls.__name__} ({cls.codec_id!r})")
        args = cfg.pop("args", [])
        return cls(*args, **cfg)

    def _key(self) -> str:
        return json.dumps(self.get_config(), sort_keys=True)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        args, kwargs = self._config_args()
        parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
        return f"{type(self).__name__}({', '.join(parts)})"

    def __reduce__(self):
        return (_rebuild, (self.get_config(),))

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")


def _rebuild(config):
    return _CODECS[config["id"]].from_config(config)
