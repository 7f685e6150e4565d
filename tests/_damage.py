"""Byte-level damage for property tests of decoders (the log record and wire codecs).

Random bytes almost never decode, so a property over them alone never
reaches its "whatever decodes" half. Tests start from valid encodings and
damage them with :func:`mutate_bytes` (and their own msgpack-level edits).
"""

from __future__ import annotations

from hypothesis import strategies as st

BYTE_MUTATIONS = ["flip", "flip", "set", "truncate", "drop", "insert", "splice", "repeat"]
"""The ``how`` values :func:`mutate_bytes` takes (flips weighted double)."""


def mutate_bytes(draw: st.DrawFn, how: str, data: bytes, donor: bytes, markers: list[int]) -> bytes:
    """Flip, overwrite (with one of ``markers``), cut, drop, insert, splice in
    ``donor``'s bytes, or repeat a slice of ``data`` (not empty)."""
    # Counted from the end: hypothesis favours small numbers, and the first
    # bytes are a header (a length prefix, a format version) that almost no
    # damage leaves decodable.
    at = len(data) - 1 - draw(st.integers(0, len(data) - 1))
    end = draw(st.integers(at + 1, len(data)))
    if how == "flip":
        flipped = data[at] ^ draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128, 255]))
        return data[:at] + bytes([flipped]) + data[at + 1 :]
    if how == "set":
        return data[:at] + bytes([draw(st.sampled_from(markers))]) + data[at + 1 :]
    if how == "truncate":
        return data[:at]
    if how == "drop":
        return data[:at] + data[end:]
    if how == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    if how == "splice":
        return data[:at] + donor[draw(st.integers(0, len(donor) - 1)) :]
    assert how == "repeat"
    return data[:end] + data[at:end] + data[end:]


def edit_array(
    draw: st.DrawFn, how: str, array: list[object], first: int, replacements: st.SearchStrategy
) -> None:
    """Drop, repeat, replace or insert (``how``) one element of ``array`` in place,
    at or after index ``first`` (an array with nothing there gets an insert)."""
    if len(array) <= first:
        how = "insert"
    at = draw(st.integers(first, max(len(array) - 1, first)))
    if how == "drop":
        del array[at]
    elif how == "repeat":
        array.insert(at, array[at])
    elif how == "replace":
        array[at] = draw(replacements)
    else:
        array.insert(at, draw(replacements))
