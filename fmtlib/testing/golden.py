"""Committed golden vectors: build a set, write it, hash it, list it in an index, check it
against this fmtlib, and record every change in the changelog.

A committed set is ``FAMILY/NAME.json`` (the manifest of :func:`fmtlib.testing.save_vectors`
without ``created`` and ``fmtlib_version``, the two fields that vary between runs and
machines) and ``FAMILY/NAME.npz`` (written by :func:`~fmtlib.testing.vectors.write_npz`).
``index.json`` lists every set with its generator's parameters and its sha256: the SHA-256
of the manifest's bytes followed by every array's bytes (C order) in the manifest's order, so
it pins every value but not the zip container (whose compressed bytes may differ between
zlib builds).

>>> import tempfile
>>> from fmtlib.testing.golden_sets import GoldenSet
>>> s = GoldenSet("element", "e2m1", "codec", {"codec": {"id": "fp", "args": ["e2m1"]}, "n_random": 64})
>>> d = tempfile.mkdtemp()
>>> entry = write_set(d, s, *build(s))
>>> entry["files"], len(entry["sha256"])
(['element/e2m1.json', 'element/e2m1.npz'], 64)
>>> check_set(d, entry)           # this fmtlib makes the same bytes
"""
from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from .._atomic import write_bytes
from .golden_sets import GoldenSet, catalogue
from .vectors import load_vectors, write_npz

INDEX = "index.json"
INDEX_SCHEMA = "fmtlib-vectors-index"
#: manifest fields that vary between runs or machines: committed manifests leave them out
VOLATILE = ("created", "fmtlib_version")
#: characters of a set's sha256 that the changelog quotes
SHORT = 12
#: a changelog entry's first line: ``## YYYY-MM-DD: reason``
ENTRY = re.compile(r"^## (\d{4}-\d{2}-\d{2}): (\S.*)$")
CHANGELOG_HEADER = """# Changelog

## Golden vectors

The committed golden vectors (`tests/vectors/`) change only through
`python -m fmtlib.testing.regenerate --why "reason"`, which appends one entry per change
below: the date and the reason, then each set it added, changed or removed as
`family/name@hash` (the first 12 hex digits of the set's sha256 in `tests/vectors/index.json`).
`tests/test_vectors.py` fails while a committed set's hash is missing here.
"""


def build(s: GoldenSet) -> tuple[dict, dict]:
    """(arrays, manifest) of a set made by this fmtlib, the manifest without :data:`VOLATILE`."""
    from ..registry import from_config
    from .gemm_vectors import make_gemm_vectors
    from .sdr_vectors import make_qrazor_vectors, make_sdr_vectors
    from .vectors import make_vectors

    kw = dict(s.params)
    if s.kind == "gemm":
        arrays, manifest = make_gemm_vectors(**kw)
    else:
        codec = from_config(kw.pop("codec"))
        make = {"codec": make_vectors, "sdr": make_sdr_vectors, "qrazor": make_qrazor_vectors}.get(s.kind)
        if make is None:
            raise ValueError(f"{s.id}: unknown kind {s.kind!r} (known: codec, sdr, qrazor, gemm)")
        arrays, manifest = make(codec, **kw)
    manifest = {k: v for k, v in manifest.items() if k not in VOLATILE}
    manifest["file"] = f"{s.name}.npz"
    return arrays, manifest


def _compact(v) -> str:
    return json.dumps(v, separators=(", ", ": "))


def manifest_bytes(manifest: dict) -> bytes:
    """The bytes of a committed manifest file: JSON with one line per field (and per entry of
    ``arrays`` and ``cases``), values written compactly, a final newline.

    >>> print(manifest_bytes({"schema": "fmtlib-vectors", "arrays": {"x": {"dtype": "uint8"}}}).decode(), end="")
    {
     "schema": "fmtlib-vectors",
     "arrays": {
      "x": {"dtype": "uint8"}
     }
    }
    """
    lines = []
    for k, v in manifest.items():
        if isinstance(v, dict) and k in ("arrays", "cases"):
            inner = [f"  {_compact(kk)}: {_compact(vv)}" for kk, vv in v.items()]
            lines.append(f" {_compact(k)}: {{\n" + ",\n".join(inner) + "\n }")
        else:
            lines.append(f" {_compact(k)}: {_compact(v)}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


def set_sha256(manifest: dict, arrays: dict) -> str:
    """SHA-256 of the manifest file's bytes followed by each array's bytes in C order, in the
    order the manifest lists them."""
    h = hashlib.sha256(manifest_bytes(manifest))
    for name in manifest["arrays"]:
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()


def _files(s: GoldenSet) -> list[str]:
    return [f"{s.family}/{s.name}.json", f"{s.family}/{s.name}.npz"]


def entry_of(s: GoldenSet, manifest: dict, arrays: dict) -> dict:
    """The index entry of a set."""
    return {"id": s.id, "kind": s.kind, "params": json.loads(json.dumps(s.params)), "files": _files(s),
            "sha256": set_sha256(manifest, arrays)}


def golden_set(entry: dict) -> GoldenSet:
    """The :class:`GoldenSet` an index entry describes."""
    family, _, name = entry["id"].partition("/")
    return GoldenSet(family, name, entry["kind"], entry["params"])


def write_set(directory, s: GoldenSet, arrays: dict, manifest: dict) -> dict:
    """Write a set's two files under ``directory/family/`` and return its index entry."""
    d = Path(directory) / s.family
    d.mkdir(parents=True, exist_ok=True)
    write_npz(d / f"{s.name}.npz", arrays)
    write_bytes(d / f"{s.name}.json", manifest_bytes(manifest))
    return entry_of(s, manifest, arrays)


def read_index(directory) -> dict:
    """The index of a vector directory (an empty one if there is none yet)."""
    p = Path(directory) / INDEX
    if not p.exists():
        return {"schema": INDEX_SCHEMA, "version": 1, "sets": []}
    index = json.loads(p.read_text())
    if index.get("schema") != INDEX_SCHEMA:
        raise ValueError(f"{p} is not an {INDEX_SCHEMA} file")
    return index


def write_index(directory, entries: list[dict]) -> None:
    """Write ``index.json``: a header, then one line per set."""
    head = {"schema": INDEX_SCHEMA, "version": 1,
            "about": "The committed golden vectors: see docs/testing.md. Change them only with "
                     "python -m fmtlib.testing.regenerate --why \"reason\"."}
    lines = [f" {_compact(k)}: {_compact(v)}," for k, v in head.items()]
    body = ",\n".join(f"  {_compact(e)}" for e in entries)
    text = "{\n" + "\n".join(lines) + '\n "sets": [\n' + body + "\n ]\n}\n"
    write_bytes(Path(directory) / INDEX, text.encode())


def committed_sha256(directory, entry: dict) -> str:
    """The sha256 of a committed set computed from its files (after :func:`load_vectors` has
    checked every array against the manifest's hashes)."""
    d = Path(directory)
    v = load_vectors(d / entry["files"][0])
    if manifest_bytes(v.manifest) != (d / entry["files"][0]).read_bytes():
        return "the manifest file is not written as regenerate writes it"
    return set_sha256(v.manifest, v.arrays)


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and np.ascontiguousarray(a).tobytes() == \
        np.ascontiguousarray(b).tobytes()


def check_set(directory, entry: dict) -> None:
    """Raise AssertionError unless the committed files hash to the index's sha256 and this
    fmtlib makes the set bit for bit: every array's bytes (reported by
    :func:`~fmtlib.testing.assert_bitexact`), the manifest file's bytes and the sha256."""
    from .bitexact import assert_bitexact
    from .vectors import _codec_of

    s = golden_set(entry)
    d = Path(directory)
    committed = load_vectors(d / entry["files"][0])   # checks every array against the manifest's sha256
    problems = []
    if set_sha256(committed.manifest, committed.arrays) != entry["sha256"] or \
            manifest_bytes(committed.manifest) != (d / entry["files"][0]).read_bytes():
        problems.append("the committed files do not hash to the index's sha256 (edited by hand?)")
    arrays, manifest = build(s)
    if set(arrays) != set(committed.arrays):
        problems.append(f"arrays: this fmtlib makes {sorted(arrays)}, the committed set has {sorted(committed.arrays)}")
    codec = _codec_of(manifest)
    for k in sorted(set(arrays) & set(committed.arrays)):
        a, want = arrays[k], committed[k]
        if _arrays_equal(a, want):
            continue
        try:
            assert_bitexact(a, want, codec if k == "codes" else None, nan_payloads=True,
                            inputs=committed["input"] if k == "codes" and codec is not None else None,
                            seed=manifest.get("seed"))
            problems.append(f"array {k!r}: {a.dtype}{list(a.shape)} vs committed {want.dtype}{list(want.shape)}")
        except AssertionError as e:
            problems.append(f"array {k!r}: {e}")
    if manifest_bytes(manifest) != (d / entry["files"][0]).read_bytes():
        keys = sorted(k for k in set(manifest) | set(committed.manifest)
                      if _compact(manifest.get(k)) != _compact(committed.manifest.get(k)))
        problems.append(f"manifest differs from the committed file (fields {keys})")
    sha = set_sha256(manifest, arrays)
    if not problems and sha != entry["sha256"]:
        problems.append(f"sha256 {sha} is not the index's {entry['sha256']}")
    if problems:
        raise AssertionError(f"{s.id} is not what this fmtlib makes ({len(problems)} problem(s)); if the change is "
                             "meant, run python -m fmtlib.testing.regenerate --why \"...\"\n  "
                             + "\n  ".join(problems))


# -- the changelog -------------------------------------------------------------------------------
def token(entry: dict) -> str:
    """How the changelog names a set's current contents: ``family/name@shorthash``."""
    return f"{entry['id']}@{entry['sha256'][:SHORT]}"


def changelog_entry(why: str, added: list[dict], changed: list[dict], removed: list[str],
                    date: datetime.date | None = None) -> str:
    """The text appended to the changelog for one regeneration."""
    date = date or datetime.datetime.now(datetime.timezone.utc).date()
    why = " ".join(why.split())
    lines = ["", f"## {date.isoformat()}: {why}", ""]
    lines += [f"- added {token(e)}" for e in added]
    lines += [f"- changed {token(e)}" for e in changed]
    lines += [f"- removed {i}" for i in removed]
    return "\n".join(lines) + "\n"


def changelog_tokens(text: str) -> dict[str, str]:
    """``family/name@hash`` -> the entry line (date and reason) each token is listed under."""
    found, current = {}, None
    for line in text.splitlines():
        m = ENTRY.match(line)
        if m:
            current = line
        elif current and line.startswith(("- added ", "- changed ")):
            found[line.split(" ", 2)[2].strip()] = current
    return found


def missing_from_changelog(entries: list[dict], text: str) -> list[str]:
    """Tokens of index entries that no dated changelog entry lists."""
    found = changelog_tokens(text)
    return [token(e) for e in entries if token(e) not in found]


# -- regeneration ----------------------------------------------------------------------------------
def regenerate(directory, changelog, why: str, *, sets: list[GoldenSet] | None = None, dry_run: bool = False,
               date: datetime.date | None = None, log=print) -> dict:
    """Make every set of ``sets`` (default: the :func:`~fmtlib.testing.golden_sets.catalogue`)
    with this fmtlib; write those that are new or differ from the committed ones, delete the
    files of sets no longer listed, rewrite the index and append a dated entry with ``why``
    to ``changelog``. Sets that come out the same are left untouched (not even rewritten).
    Returns ``{"added": [...], "changed": [...], "removed": [...]}`` (set ids). With
    ``dry_run`` nothing is written."""
    if not why or not why.strip():
        raise ValueError("say why the vectors change: a reason is required (--why \"...\")")
    d = Path(directory)
    sets = catalogue() if sets is None else sets
    ids = [s.id for s in sets]
    if len(set(ids)) != len(ids):
        raise ValueError("the catalogue names a set twice")
    old = {e["id"]: e for e in read_index(d)["sets"]}
    entries, added, changed = [], [], []
    for s in sets:
        arrays, manifest = build(s)
        e = entry_of(s, manifest, arrays)
        prev = old.get(s.id)
        same = prev is not None and prev == e and _committed_ok(d, prev)
        if not same:
            (changed if prev is not None else added).append(e)
            if not dry_run:
                write_set(d, s, arrays, manifest)
        entries.append(e)
    removed = sorted(set(old) - set(ids))
    result = {"added": [e["id"] for e in added], "changed": [e["id"] for e in changed], "removed": removed}
    if not (added or changed or removed):
        log(f"all {len(entries)} sets are as committed; nothing to write")
        return result
    log(f"{len(entries)} sets: {len(added)} added, {len(changed)} changed, {len(removed)} removed"
        + (" (--check: nothing written)" if dry_run else ""))
    for kind in ("added", "changed", "removed"):
        for i in result[kind]:
            log(f"  {kind} {i}")
    if dry_run:
        return result
    for i in removed:
        for f in old[i]["files"]:
            (d / f).unlink(missing_ok=True)
    write_index(d, entries)
    path = Path(changelog)
    text = path.read_text() if path.exists() else CHANGELOG_HEADER
    write_bytes(path, (text.rstrip("\n") + "\n" + changelog_entry(why, added, changed, removed, date)).encode())
    log(f"wrote {d / INDEX} and appended the entry to {path}")
    return result


def _committed_ok(directory: Path, entry: dict) -> bool:
    """Whether a committed set's files are there and hash to its index entry."""
    try:
        return committed_sha256(directory, entry) == entry["sha256"]
    except (ValueError, OSError, KeyError):
        return False
