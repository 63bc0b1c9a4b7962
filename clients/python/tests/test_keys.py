"""API keys and roles: a server that asks for keys refuses callers without one, and a producer key may not delete."""
import os
import tempfile
from typing import Iterator

import numpy as np
import pytest

import lshcluster
from conftest import create, unit_rows
from servers import serve

PRODUCER = "producer-secret-0123456789"
ADMIN = "admin-secret-0123456789abc"


@pytest.fixture(scope="module")
def keyed_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="lshc-py-keys-") as directory:
        process, url = serve(create(f"sqlite:{os.path.join(directory, 'store.db')}"),
                             env={"LSHC_API_KEYS": f"ingest:producer:{PRODUCER},ops:admin:{ADMIN}"})
        yield url
        process.stop()


def test_a_caller_without_a_key_or_with_an_unknown_one_is_refused(keyed_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(lshcluster.API_KEY_VARIABLE, raising=False)
    rows = unit_rows(np.random.default_rng(1), 1)
    with lshcluster.Client(keyed_url) as client:
        with pytest.raises(lshcluster.Unauthenticated) as e:
            client.insert(["k-none"], rows)
        assert e.value.code == "UNAUTHENTICATED" and "API key" in str(e.value)
    with lshcluster.Client(keyed_url, api_key="not-a-key-of-this-cluster") as client:
        with pytest.raises(lshcluster.Unauthenticated) as e:
            client.stats()
        assert "not one of this cluster's keys" in str(e.value)


def test_a_producer_inserts_and_queries_but_may_not_delete(keyed_url: str, prefix: str) -> None:
    rows = unit_rows(np.random.default_rng(2), 2)
    with lshcluster.Client(keyed_url, api_key=PRODUCER) as client:
        assert all(isinstance(v, lshcluster.Verdict) for v in client.insert([f"{prefix}a", f"{prefix}b"], rows))
        assert client.get(f"{prefix}a").verdict.id == f"{prefix}a"
        with pytest.raises(lshcluster.PermissionDenied) as e:
            client.delete([f"{prefix}a"])
        assert "has role producer" in str(e.value) and "needs an admin key" in str(e.value) and e.value.field == "authorization"
        assert client.get(f"{prefix}a").verdict.id == f"{prefix}a"  # nothing changed


def test_an_admin_key_from_the_environment_may_delete(keyed_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(lshcluster.API_KEY_VARIABLE, ADMIN)
    with lshcluster.Client(keyed_url) as client:
        client.insert([f"{prefix}a"], unit_rows(np.random.default_rng(3), 1))
        assert client.delete([f"{prefix}a"])[0].deleted
