"""The one piece of hand-written wire format: an InsertRequest encoded straight from a NumPy array.

Building InsertRequest messages field by field converts every float through Python (about 100 ms per 1,000 vectors of
784 on this machine), which would make the client slower than the server. A packed `repeated float` is the array's
little-endian bytes, so the request is the ids' bytes and the rows' bytes with a few length prefixes; protobuf parses
it as usual (tests/test_wire.py checks it byte for byte against protobuf's own encoding).
"""
from typing import List, Sequence

import numpy as np

_VECTORS = b"\x0a"  # InsertRequest.vectors = 1, length-delimited
_ID = b"\x0a"       # Vector.id = 1, length-delimited
_VALUES = b"\x12"   # Vector.values = 2, packed floats


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_insert_request(ids: Sequence[bytes], vectors: np.ndarray) -> bytes:
    """An InsertRequest holding vectors[i] under ids[i] (ids already UTF-8; vectors float32, C-contiguous, shape (n, d))."""
    rows = np.ascontiguousarray(vectors, dtype="<f4")
    width = rows.shape[1] * 4
    values_prefix = _VALUES + _varint(width) if width else b""
    parts: List[bytes] = []
    for key, row in zip(ids, rows):
        head = _ID + _varint(len(key)) + key if key else b""
        body = len(head) + len(values_prefix) + (width if width else 0)
        parts.append(_VECTORS + _varint(body) + head + values_prefix)
        if width:
            parts.append(row.tobytes())
    return b"".join(parts)
