"""The client against each kind of server: inserts and verdicts, repeated ids, queries, clusters, delete, the feed."""
import numpy as np
import pytest

import lshcluster
from conftest import DIMENSION, near, unit_rows


def test_insert_returns_one_verdict_per_id_in_order(server: str, prefix: str) -> None:
    rng = np.random.default_rng(1)
    originals = unit_rows(rng, 300)
    copies = near(rng, originals[:100])
    ids = [f"{prefix}{i}" for i in range(300)] + [f"{prefix}near-{i}" for i in range(100)]
    with lshcluster.Client(server, batch_size=64, in_flight=3) as client:  # several batches, several in flight
        before = client.stats().vectors
        verdicts = client.insert(ids, np.vstack([originals, copies]))
        assert [v.id for v in verdicts] == ids
        assert all(isinstance(v, lshcluster.Verdict) for v in verdicts)
        assert all(v.kind == "new" and not v.repeated for v in verdicts[:300])
        for i, v in enumerate(verdicts[300:]):
            assert v.is_duplicate and v.best_match_id == f"{prefix}{i}", v
            assert v.best_cosine == pytest.approx(float(originals[i] @ copies[i]), abs=1e-4)
            assert v.rung == pytest.approx(0.99) and v.canonical_id == f"{prefix}{i}"
            assert v.cluster_id == verdicts[i].vector_id  # the cluster is named by its canonical member
        assert client.stats().vectors == before + 400


def test_a_repeated_id_returns_its_first_verdict_and_stores_nothing(server: str, prefix: str) -> None:
    rng = np.random.default_rng(2)
    rows = unit_rows(rng, 3)
    with lshcluster.Client(server) as client:
        first = client.insert([f"{prefix}a", f"{prefix}b"], rows[:2])
        before = client.stats().vectors
        # The same ids again, with other values: the first verdicts come back, marked repeated; nothing is stored.
        again = client.insert([f"{prefix}a", f"{prefix}b", f"{prefix}c"], rows[[2, 2, 2]])
        assert [v.vector_id for v in again[:2]] == [v.vector_id for v in first]
        assert all(v.repeated for v in again[:2]) and not again[2].repeated
        assert client.stats().vectors == before + 1
        # Within one call, the second of two equal ids is answered with the first's verdict.
        twice = client.insert([f"{prefix}d", f"{prefix}d"], unit_rows(rng, 2))
        assert twice[0].vector_id == twice[1].vector_id and twice[1].repeated
        assert client.stats().vectors == before + 2


def test_float64_and_integer_arrays_are_converted(server: str, prefix: str) -> None:
    rng = np.random.default_rng(3)
    rows = unit_rows(rng, 2).astype(np.float64)
    with lshcluster.Client(server) as client:
        verdicts = client.insert([f"{prefix}f64", f"{prefix}int"], np.vstack([rows[:1], np.arange(1, DIMENSION + 1)[None, :]]))
        assert all(isinstance(v, lshcluster.Verdict) for v in verdicts)
        assert client.query(rows[0], min_cosine=0.999)[0].id == f"{prefix}f64"


def test_query_get_and_cluster(server: str, prefix: str) -> None:
    rng = np.random.default_rng(4)
    base = unit_rows(rng, 1)
    family = np.vstack([base, near(rng, np.repeat(base, 5, axis=0), noise=0.01)])
    ids = [f"{prefix}{i}" for i in range(6)]
    with lshcluster.Client(server) as client:
        client.insert(ids[:1], family[:1])  # stored first: the canonical member of its clusters
        client.insert(ids[1:], family[1:])
        found = client.query(family[0], min_cosine=0.99, limit=10)
        assert {n.id for n in found} == set(ids)
        assert [n.cosine for n in found] == sorted((n.cosine for n in found), reverse=True)
        assert found[0].id == ids[0] and found[0].cosine == pytest.approx(1.0, abs=1e-5)
        assert len(client.query(family[0], min_cosine=0.99, limit=2)) == 2

        info = client.get(ids[3])
        assert info.verdict.id == ids[3] and info.verdict.is_duplicate
        assert [c.rung for c in info.clusters] == pytest.approx([0.99, 0.95])
        assert all(c.size == 6 and c.canonical_id == ids[0] for c in info.clusters)

        cluster = client.cluster(ids[3])
        assert cluster.size == 6 and cluster.canonical_id == ids[0] and not cluster.chained
        assert sorted(m.id for m in cluster.members) == sorted(ids)
        assert cluster.coherence == pytest.approx(min(m.cosine_to_canonical for m in cluster.members))
        paged = client.cluster(ids[3], page_size=2)  # three pages of two, by the `after` cursor
        assert [m.id for m in paged.members] == [m.id for m in cluster.members]
        assert len(client.cluster(ids[3], limit=4).members) == 4
        assert client.cluster(cluster.cluster_id, rung=0.95).size == 6  # by cluster id, at the lower rung
        core = client.cluster(ids[0], core=True)
        assert core.core_size == 6 and len(core.members) == 6

        with pytest.raises(lshcluster.NotFound) as missing:
            client.get(f"{prefix}missing")
        assert missing.value.field == "id" and "not stored" in str(missing.value)
        with pytest.raises(lshcluster.NotFound):
            client.cluster(f"{prefix}missing")


def test_clusters_and_stats(server: str, prefix: str) -> None:
    rng = np.random.default_rng(5)
    base = unit_rows(rng, 1)
    big = np.vstack([base, near(rng, np.repeat(base, 39, axis=0), noise=0.005)])  # larger than any other test's cluster
    with lshcluster.Client(server) as client:
        client.insert([f"{prefix}0"], big[:1])
        client.insert([f"{prefix}{i}" for i in range(1, 40)], big[1:])
        top = client.clusters(top=3)
        assert 1 <= len(top) <= 3
        assert top[0].size == 40 and top[0].canonical_id == f"{prefix}0" and top[0].members == ()
        assert [c.size for c in top] == sorted((c.size for c in top), reverse=True)
        assert all(c.size >= 10 for c in client.clusters(top=50, min_size=10))
        assert client.clusters(rung=0.95, top=1)[0].size >= 40

        stats = client.stats()
        assert stats.vectors >= 40 and stats.duplicates >= 39 and stats.shards == 64
        assert [r.rung for r in stats.rungs] == pytest.approx([0.99, 0.95])
        assert stats.rungs[0].largest_cluster >= 40 and stats.rungs[0].clustered_vectors >= 40


def test_delete_removes_vectors_and_reports_each_id(server: str, prefix: str) -> None:
    rng = np.random.default_rng(6)
    with lshcluster.Client(server) as client:
        client.insert([f"{prefix}keep", f"{prefix}gone"], unit_rows(rng, 2))
        before = client.stats().vectors
        results = client.delete([f"{prefix}gone", f"{prefix}never"])
        assert [(r.index, r.id, r.deleted, r.error) for r in results] == [(0, f"{prefix}gone", True, None), (1, f"{prefix}never", False, None)]
        assert client.stats().vectors == before - 1
        with pytest.raises(lshcluster.NotFound):
            client.get(f"{prefix}gone")
        assert client.get(f"{prefix}keep").verdict.id == f"{prefix}keep"


def test_watch_yields_each_event_once_and_resumes_after_a_cursor(server: str, prefix: str) -> None:
    rng = np.random.default_rng(7)
    rows = unit_rows(rng, 20)
    with lshcluster.Client(server) as client:
        client.insert([f"{prefix}{i}" for i in range(10)], rows[:10])
        client.delete([f"{prefix}0"])
        ours = [f"{prefix}{i}" for i in range(10)]
        seen = []
        feed = client.watch()
        for event in feed:
            if event.id in ours or len(seen) > 0:
                seen.append(event)
            if event.kind == "deletion" and event.id == f"{prefix}0":
                break
        feed.close()
        assert [e.id for e in seen if e.kind == "verdict"] == ours
        assert [e.cursor for e in seen] == sorted({e.cursor for e in seen})

        # Resuming after the deletion's cursor: the next inserts, nothing before them.
        client.insert([f"{prefix}{i}" for i in range(10, 20)], rows[10:])
        feed = client.watch(after=seen[-1].cursor)
        later = [next(feed) for _ in range(10)]
        feed.close()
        assert [e.id for e in later] == [f"{prefix}{i}" for i in range(10, 20)]
        assert all(e.cursor > seen[-1].cursor for e in later)
