"""crc32_hex: zlib's CRC-32 of each value as 8 hex digits, NULL for NULL."""

import zlib

import pyarrow as pa

from superhero_assets.core.parse.checksum import crc32_hex


def test_matches_zlib_for_every_value_even_in_slices_and_chunks():
    values = [b"abc", None, b"", b"x" * 40_000, "é".encode()]
    expected = [None if v is None else f"{zlib.crc32(v):08x}" for v in values]
    array = pa.array(values, pa.binary())
    assert crc32_hex(array).to_pylist() == expected
    assert crc32_hex(array.slice(1)).to_pylist() == expected[1:]
    chunked = pa.chunked_array([array.slice(0, 2), array.slice(2)])
    assert crc32_hex(chunked).to_pylist() == expected


def test_all_null_and_empty():
    assert crc32_hex(pa.array([None, None], pa.binary())).to_pylist() == [None, None]
    assert crc32_hex(pa.array([], pa.binary())).to_pylist() == []


def test_large_binary_and_string_values_give_the_same_checksums():
    values = [b"abc", None, "é".encode()]
    expected = crc32_hex(pa.array(values, pa.binary())).to_pylist()
    assert crc32_hex(pa.array(values, pa.large_binary())).to_pylist() == expected
    text = pa.array([None if v is None else v.decode() for v in values], pa.string())
    assert crc32_hex(text).to_pylist() == expected
