"""Ways to spoil an input file: byte flips, truncation, raw FITS card edits, CSV cells, Avro records."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CARD = 80
BLOCK = 2880

# Values a careless or hostile header may hold (written raw, so astropy's own checks do not stop them).
CARD_VALUES = ["-5", "0", "1", "1e300", "-1e300", "1e30", "NAN", "INF", "''", "'abc'", "'0001-01-01T00:00:00'",
               "'9999-12-31T23:59:59'", "'2026-13-45T99:99:99'", "T", "99999999999999999999", "'" + "x" * 66 + "'",
               "(1.0, 2.0)", "'12:34:56.7'", "'-91:00:00'"]
CARD_KEYS = ["NAXIS", "NAXIS1", "NAXIS2", "BITPIX", "BSCALE", "BZERO", "EXPTIME", "EXPOSURE", "DATE-OBS",
             "MJD-OBS", "TIME-OBS", "UT", "AIRMASS", "SECZ", "RA", "DEC", "OBJCTRA", "OBJCTDEC", "GAIN", "RDNOISE",
             "SATURATE", "FILTER", "OBSERVAT", "TELESCOP", "LATITUDE", "LONGITUD", "SITELAT", "SITELONG",
             "CRPIX1", "CRVAL1", "CDELT1", "CTYPE1", "CD1_1", "EQUINOX", "IMAGETYP", "TRIMSEC", "BIASSEC"]


def flip_bytes(raw: bytes, rng: np.random.Generator, count: int, lo: int = 0, hi: int | None = None) -> bytes:
    """`raw` with `count` bytes in [lo, hi) replaced by random values."""
    data = bytearray(raw)
    hi = len(data) if hi is None else hi
    for where in rng.integers(lo, max(lo + 1, hi), count):
        data[int(where)] = int(rng.integers(256))
    return bytes(data)


def header_end(raw: bytes) -> int:
    """Byte offset where the primary header's blocks end (after the END card), or the length if none."""
    for start in range(0, len(raw), CARD):
        if raw[start:start + 8] == b"END     ":
            return (start // BLOCK + 1) * BLOCK
    return len(raw)


def set_card(raw: bytes, key: str, value: str) -> bytes:
    """The primary header with card `key` set to the raw `value` text (added before END when absent)."""
    text = f"{key:<8}= {value:>20}".encode("ascii", "replace")[:CARD].ljust(CARD)
    data = bytearray(raw)
    end = None
    for start in range(0, header_end(raw), CARD):
        name = bytes(data[start:start + 8]).rstrip()
        if name == key.encode():
            data[start:start + CARD] = text
            return bytes(data)
        if name == b"END":
            end = start
            break
    if end is None or end + 2 * CARD > header_end(raw):  # no room left in the last header block
        return bytes(data)
    data[end + CARD:end + 2 * CARD] = data[end:end + CARD]
    data[end:end + CARD] = text
    return bytes(data)


def data_span(raw: bytes) -> tuple[int, int]:
    """Start and end of the primary data unit from its header (end capped at the file length)."""
    start = header_end(raw)
    cards = {raw[i:i + 8].rstrip(): raw[i + 10:i + CARD] for i in range(0, start, CARD)}
    try:
        size = abs(int(cards[b"BITPIX"].split(b"/")[0])) // 8
        for axis in range(1, int(cards[b"NAXIS"].split(b"/")[0]) + 1):
            size *= int(cards[b"NAXIS%d" % axis].split(b"/")[0])
    except (KeyError, ValueError):
        size = 0
    return start, min(len(raw), start + size)


def gzip_plain(raw: bytes) -> bytes:
    """The decompressed content of a gzip file."""
    return gzip.decompress(raw)


def regzip(raw: bytes) -> bytes:
    """`raw` gzipped (fast level: the campaign writes hundreds)."""
    return gzip.compress(raw, compresslevel=1)


CSV_CELLS = ["nan", "inf", "-inf", "1e300", "-1e300", "1e999", "", "abc", "0x10", "1" * 400, "-0", "1,5", "NULL"]


def csv_with_cells(text: str, rng: np.random.Generator, count: int) -> str:
    """The CSV with `count` random body cells replaced by hostile values."""
    lines = text.splitlines()
    body = [line.split(",") for line in lines[1:]]
    for _ in range(count):
        row = body[int(rng.integers(len(body)))]
        row[int(rng.integers(len(row)))] = CSV_CELLS[int(rng.integers(len(CSV_CELLS)))]
    return "\n".join([lines[0], *(",".join(row) for row in body)]) + "\n"


def csv_transform(text: str, how: str) -> str:
    """The CSV after one structural change (`how` names it)."""
    lines = text.splitlines()
    head, body = lines[0], lines[1:]
    cols = [line.split(",") for line in body]
    changes: dict[str, Callable[[], list[str]]] = {
        "no_header": lambda: body,
        "one_row": lambda: [head, body[0]],
        "two_rows": lambda: [head, *body[:2]],
        "reversed": lambda: [head, *body[::-1]],
        "duplicated": lambda: [head, *body, *body],
        "same_time": lambda: [head, *(",".join(["1000.0", *c[1:]]) for c in cols)],
        "constant": lambda: [head, *(",".join([c[0], "12.0", *c[2:]]) for c in cols)],
        "zero_errors": lambda: [head, *(",".join([*c[:2], "0"]) for c in cols)],
        "negative_errors": lambda: [head, *(",".join([*c[:2], "-0.01"]) for c in cols)],
        "huge_times": lambda: [head, *(",".join([str(1e300 * (i + 1)), *c[1:]]) for i, c in enumerate(cols))],
        "span_1e9": lambda: [head, *(",".join([str(i * 1e9 / len(cols)), *c[1:]]) for i, c in enumerate(cols))],
        "one_column": lambda: [line.split(",")[0] for line in lines],
        "extra_columns": lambda: [line + ",x,y" for line in lines],
        "semicolons": lambda: [line.replace(",", ";") for line in lines],
        "tabs": lambda: [line.replace(",", "\t") for line in lines],
        "ragged": lambda: [head, *(line if i % 3 else line + ",9" for i, line in enumerate(body))],
        "header_only": lambda: [head],
        "renamed": lambda: ["a,b,c", *body],
        "long_line": lambda: [head, "1" * 1_000_000],
        "all_nan_mag": lambda: [head, *(",".join([c[0], "nan", *c[2:]]) for c in cols)],
    }
    return "\n".join(changes[how]()) + "\n"


CSV_CHANGES = ["no_header", "one_row", "two_rows", "reversed", "duplicated", "same_time", "constant",
               "zero_errors", "negative_errors", "huge_times", "span_1e9", "one_column", "extra_columns",
               "semicolons", "tabs", "ragged", "header_only", "renamed", "long_line", "all_nan_mag"]


def rewrite_avro(source: Path, target: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """The packet `source` written to `target` with `change(record)` applied to each record."""
    import fastavro

    with source.open("rb") as handle:
        reader = fastavro.reader(handle)
        schema, records = reader.writer_schema, list(reader)
    for record in records:
        change(record)
    with target.open("wb") as handle:
        fastavro.writer(handle, schema, records)


def stamp(shape: tuple[int, ...], fill: float = 1.0, dtype: Any = np.float32, compress: bool = True) -> bytes:
    """A FITS cutout stamp of `shape` filled with `fill`, gzipped like ZTF's."""
    from astropy.io import fits

    buffer = io.BytesIO()
    fits.PrimaryHDU(np.full(shape, fill, dtype)).writeto(buffer)
    return gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()
