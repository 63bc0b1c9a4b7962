"""The hand-written InsertRequest encoding equals protobuf's own, byte for byte, and the stubs equal the .proto's."""
import os
import sys

import numpy as np
import pytest

from lshcluster._proto import lshcluster_pb2 as pb
from lshcluster._wire import encode_insert_request

CLIENT = os.path.join(os.path.dirname(__file__), "..")


@pytest.mark.parametrize("n, d", [(0, 4), (1, 1), (3, 31), (3, 32), (2, 784), (5, 2000)])
def test_the_encoding_equals_protobufs(n: int, d: int) -> None:
    rng = np.random.default_rng(n * 10_000 + d)
    rows = rng.standard_normal((n, d)).astype(np.float32)
    ids = ["", "é-ü-😀", "x" * 200, "a", "b"][:n] if n else []
    expected = pb.InsertRequest(vectors=[pb.Vector(id=i, values=r.tolist()) for i, r in zip(ids, rows)]).SerializeToString()
    assert encode_insert_request([i.encode("utf-8") for i in ids], rows) == expected
    parsed = pb.InsertRequest.FromString(encode_insert_request([i.encode("utf-8") for i in ids], rows))
    assert [v.id for v in parsed.vectors] == ids
    assert all(np.array_equal(np.array(v.values, np.float32), r) for v, r in zip(parsed.vectors, rows))


def test_the_checked_in_stubs_are_what_the_proto_generates_now() -> None:
    sys.path.insert(0, CLIENT)
    import generate_stubs

    for name, text in generate_stubs.generate().items():
        with open(os.path.join(CLIENT, "lshcluster", "_proto", name), encoding="utf-8") as f:
            assert f.read() == text, f"lshcluster/_proto/{name} differs from src/LshCluster.Protocol/Protos/lshcluster.proto: run clients/python/generate_stubs.py"
