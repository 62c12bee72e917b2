"""Reading the small data files few-shot blocks draw from: JSONL, CSV and TSV.

Every row is a dict of field -> value; errors name the file and the row number. Selection (``pick k``,
``seed``, ``balanced by field``) is deterministic: the same file, k and seed give the same shots.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Row = dict[str, Any]


class DataError(ValueError):
    """A data file cannot be read; the message names the file and row."""


def read_rows(path: Path, shown: str | None = None) -> list[Row]:
    return list(iter_rows(path, shown))


def iter_rows(path: Path, shown: str | None = None) -> Iterator[Row]:
    shown = shown or str(path)
    suffix = path.suffix.lower()
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"{shown}: cannot open ({exc.strerror})") from None
    with handle:
        try:
            if suffix in (".jsonl", ".ndjson"):
                yield from _jsonl(handle, shown)
            elif suffix in (".csv", ".tsv"):
                yield from _delimited(handle, shown, "\t" if suffix == ".tsv" else ",")
            else:
                raise DataError(f"{shown}: unknown data format `{suffix}` (expected .jsonl, .csv or .tsv)")
        except UnicodeDecodeError:
            raise DataError(f"{shown}: not valid UTF-8") from None


def _jsonl(lines: Any, shown: str) -> Iterator[Row]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{shown}:{number}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(row, dict):
            raise DataError(f"{shown}:{number}: expected a JSON object per line, got {type(row).__name__}")
        yield row


def _delimited(handle: Any, shown: str, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(handle, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise DataError(f"{shown}:{number}: {len(cells)} fields where the header has {len(header)}")
        yield dict(zip(header, cells, strict=False))


def select(rows: list[Row], k: int | None, seed: int | None, balanced_by: str | None) -> list[Row]:
    """Pick k rows. Without a seed the first k are taken in file order; with a seed they are sampled.
    ``balanced_by`` takes rows from each value of that field in turn (values in first-seen order)."""
    if k is None or (k >= len(rows) and balanced_by is None):
        return list(rows) if k is None else list(rows[:k])
    rng = random.Random(seed) if seed is not None else None
    if balanced_by is None:
        return rng.sample(rows, k) if rng else rows[:k]
    groups: dict[Any, list[Row]] = {}
    for row in rows:
        groups.setdefault(_key(row.get(balanced_by)), []).append(row)
    pools = [rng.sample(g, len(g)) if rng else list(g) for g in groups.values()]
    picked: list[Row] = []
    while len(picked) < k and any(pools):
        for pool in pools:
            if pool and len(picked) < k:
                picked.append(pool.pop(0))
    return picked


def _key(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value
