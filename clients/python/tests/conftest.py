"""Fixtures: the servers the client is tested against, each a real process on real sockets.

`embedded` is `lshc serve` on SQLite; `silo` a one-silo cluster on a throwaway PostgreSQL. Tests that take `server`
run against both. Every test names its vectors with ids of its own, so that tests may share a server.
"""
import os
import sys
import tempfile
import uuid
from typing import Iterator

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from servers import Postgres, lshc, serve, silo  # noqa: E402

DIMENSION = 32
# Created without a sample, as a new user would: exact until it learns its hashing from the first 2,000 vectors.
CREATE = ["--dim", str(DIMENSION), "--rungs", "0.99,0.95", "--shards", "64"]


def create(store: str) -> str:
    lshc("create", "--store", store, *CREATE)
    return store


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedded_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="lshc-py-") as directory:
        process, url = serve(create(f"sqlite:{os.path.join(directory, 'store.db')}"))
        yield url
        process.stop()


@pytest.fixture(scope="session")
def silo_url(postgres: Postgres) -> Iterator[str]:
    process, url = silo(create(postgres.new_store()))
    yield url
    process.stop()


@pytest.fixture(params=["embedded", "silo"])
def server(request: pytest.FixtureRequest) -> str:
    """The gRPC URL of each kind of server in turn."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def prefix() -> str:
    """Ids of this test's own."""
    return f"t{uuid.uuid4().hex[:8]}-"


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def near(rng: np.random.Generator, rows: np.ndarray, noise: float = 0.01) -> np.ndarray:
    """A near-duplicate of each unit row: cosine about 1 - noise² · d / 2 (0.998 for noise 0.01 at d = 32)."""
    moved = rows + noise * rng.standard_normal(rows.shape).astype(np.float32)
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)
