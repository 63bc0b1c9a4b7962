"""Every bad input: refused before sending (InvalidArgument, the field named) or, per item, an ItemError in place of a
verdict with nothing stored for it."""
import numpy as np
import pytest

import lshcluster
from conftest import DIMENSION, unit_rows


@pytest.fixture
def client(embedded_url: str):
    with lshcluster.Client(embedded_url) as c:
        yield c


def refused(field: str, call, *args, **kwargs) -> str:
    with pytest.raises(lshcluster.InvalidArgument) as e:
        call(*args, **kwargs)
    assert e.value.field == field and str(e.value).startswith(f"{field}:"), str(e.value)
    return str(e.value)


def test_the_client_refuses_what_cannot_be_sent(client: lshcluster.Client) -> None:
    rows = unit_rows(np.random.default_rng(1), 2)
    assert "2 ids for 3 vectors" in refused("ids", client.insert, ["a", "b"], np.vstack([rows, rows[:1]]))
    assert "shape (32,)" in refused("vectors", client.insert, ["a"], rows[0])
    refused("vectors", client.insert, ["a"], rows[None, :, :])
    refused("vectors", client.insert, ["a"], np.array([["x"] * DIMENSION]))
    refused("vectors", client.insert, ["a", "b"], [[1.0, 2.0], [3.0]])
    assert "got int" in refused("ids[1]", client.insert, ["a", 7], rows)
    refused("ids", client.insert, "ab", rows)
    refused("vector", client.query, rows)
    refused("limit", client.query, rows[0], limit=0)
    refused("id", client.cluster, 0)
    refused("id", client.cluster, 1.5)
    refused("page_size", client.cluster, "a", page_size=0)
    refused("top", client.clusters, top=0)
    refused("min_size", client.clusters, min_size=0)
    refused("ids[0]", client.delete, [None])
    refused("after", lambda: next(client.watch(after=-1)))


def test_bad_settings_are_refused() -> None:
    refused("url", lshcluster.Client, "")
    refused("url", lshcluster.Client, "ftp://127.0.0.1:1")
    refused("url", lshcluster.Client, ["http://127.0.0.1:1", "https://127.0.0.1:2"])
    refused("batch_size", lshcluster.Client, "http://127.0.0.1:1", batch_size=10_001)
    refused("in_flight", lshcluster.Client, "http://127.0.0.1:1", in_flight=0)
    refused("timeout", lshcluster.Client, "http://127.0.0.1:1", timeout=0)
    assert "/no/such.pem" in refused("tls", lshcluster.Client, "127.0.0.1:1", tls="/no/such.pem")
    refused("tls", lshcluster.Client, "127.0.0.1:1", tls=b"not a certificate")


def test_bad_items_come_back_as_errors_and_nothing_is_stored_for_them(client: lshcluster.Client, prefix: str) -> None:
    rng = np.random.default_rng(2)
    rows = unit_rows(rng, 6)
    rows[1, 3] = np.nan
    rows[2, 0] = np.inf
    rows[3] = 0
    ids = [f"{prefix}ok", f"{prefix}nan", f"{prefix}inf", f"{prefix}zero", "", f"{prefix}" + "x" * 257]
    before = client.stats().vectors
    outcomes = client.insert(ids, rows)
    assert isinstance(outcomes[0], lshcluster.Verdict)
    errors = outcomes[1:]
    assert all(isinstance(e, lshcluster.ItemError) for e in errors), errors
    assert [(e.index, e.code) for e in errors] == [(1, "not_a_number"), (2, "infinite"), (3, "zero_norm"), (4, "empty_id"), (5, "id_too_long")]
    assert [e.field for e in errors] == ["vectors[1][3]", "vectors[2][0]", "vectors[3]", "ids[4]", "ids[5]"]
    assert all(e.message.startswith(e.field) for e in errors), [e.message for e in errors]
    assert client.stats().vectors == before + 1
    for id in ids[1:4]:
        with pytest.raises(lshcluster.NotFound):
            client.get(id)


def test_a_wrong_dimension_is_an_item_error_with_its_index_in_the_whole_call(embedded_url: str, prefix: str) -> None:
    with lshcluster.Client(embedded_url, batch_size=2) as client:  # the bad rows are in the second and third requests
        outcomes = client.insert([f"{prefix}{i}" for i in range(5)], np.ones((5, DIMENSION + 1), np.float32))
    assert [(e.index, e.field, e.code) for e in outcomes] == [(i, f"vectors[{i}]", "wrong_dimension") for i in range(5)]
    assert "expected 32 values, got 33" in outcomes[4].message


def test_the_server_refuses_bad_calls_naming_the_field(client: lshcluster.Client) -> None:
    assert "not a rung" in refused("rung", client.clusters, rung=0.5)
    refused("rung", client.cluster, 123456, rung=0.5)
    assert "expected 32 values, got 33" in refused("vector", client.query, np.ones(DIMENSION + 1))
