"""Whole-column tests and reads of JSON leaves (a leaf: the JSON text of one field).

Shared by the fast path's messages (`fast_path.py`) and matches (`fast_lobby.py`). Each is a
few Arrow kernels over a whole batch; a condition that cannot be decided (NULL) is false.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def all_of(*conditions) -> pa.ChunkedArray:
    """True where every condition holds; unknown (NULL) counts as not clean."""
    result = conditions[0]
    for condition in conditions[1:]:
        result = pc.and_kleene(result, condition)
    return pc.fill_null(result, False)


def unless(kind, *conditions):
    """Conditions that matter only for messages of this kind."""
    return pc.or_kleene(pc.invert(pc.fill_null(kind, False)), all_of(*conditions))


def plain(leaf):
    """A JSON string leaf with nothing escaped: its text is the leaf without its quotes."""
    return pc.and_(pc.starts_with(leaf, '"'), pc.invert(pc.match_substring(leaf, "\\")))


def text(leaf):
    return pc.utf8_slice_codeunits(leaf, 1, -1)


def uint(leaf):
    """The leaf as uint64 when it is at most 19 digits (surely a JSON integer in range)."""
    digits = pc.fill_null(pc.match_substring_regex(leaf, r"^\d{1,19}$"), False)
    return pc.if_else(digits, leaf, None).cast(pa.uint64())


def timestamp(leaf_text, shape: str, width: int, unit: str):
    """Text of exactly this shape as a timestamp; NULL for any other.

    Arrow's ISO parser agrees with strptime on text of the exact shape, and refuses the
    same impossible dates (Feb 30, 24:00), which the full rules then judge.
    """
    shaped = pc.fill_null(pc.match_substring_regex(leaf_text, shape), False)
    candidates = pc.if_else(shaped, pc.utf8_slice_codeunits(leaf_text, 0, width), None)
    if isinstance(candidates, pa.ChunkedArray):
        candidates = candidates.combine_chunks()
    return strict_cast(candidates, pa.timestamp(unit))


def strict_cast(values: pa.Array, to: pa.DataType) -> pa.Array:
    """text cast with Arrow's strict parser, NULL where it refuses a value.

    The cast fails a whole array for one impossible date, so a refused array is halved
    until the refused values are alone: a few dozen casts for a few bad values.
    """
    try:
        return values.cast(to)
    except pa.ArrowInvalid:
        if len(values) <= 1:
            return pa.nulls(len(values), to)
        half = len(values) // 2
        return pa.concat_arrays(
            [strict_cast(values.slice(0, half), to), strict_cast(values.slice(half), to)]
        )


def round_to_ms(micros):
    """As DuckDB's cast to TIMESTAMP_MS: to the nearest millisecond, halves away from zero."""
    rounded = pc.round_to_multiple(
        micros.cast(pa.int64()), multiple=1000, round_mode="half_towards_infinity"
    )
    return pc.divide(rounded, 1000).cast(pa.timestamp("ms"))
