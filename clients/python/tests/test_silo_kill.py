"""A silo killed mid-stream: the producer's inserts move to the other silo and the feed's consumer resumes there;
every acknowledged verdict is stored, and the feed shows each vector once."""
import threading
import time
from typing import Dict, List

import numpy as np

import lshcluster
from conftest import create, near, unit_rows
from servers import Postgres, silo

TOTAL = 6000
CALL = 500          # vectors per insert() call
KILL_AFTER = 1500   # verdicts acknowledged before the kill


def test_nothing_acknowledged_is_lost_when_a_silo_is_killed_mid_stream(postgres: Postgres) -> None:
    store = create(postgres.new_store())
    first, first_url = silo(store)
    second, second_url = silo(store)
    try:
        rng = np.random.default_rng(11)
        originals = unit_rows(rng, TOTAL // 2)
        rows = np.vstack([originals, near(rng, originals)])
        ids = [f"kill-{i}" for i in range(TOTAL)]
        events: List[lshcluster.Event] = []
        consumer_done = threading.Event()

        def consume() -> None:
            with lshcluster.Client(first_url, timeout=120) as reader:  # it learns the second silo from the first
                for event in reader.watch():
                    events.append(event)
                    if sum(e.kind == "verdict" for e in events) >= TOTAL or consumer_done.is_set():
                        return

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()

        acknowledged: Dict[str, lshcluster.Verdict] = {}
        with lshcluster.Client(first_url, batch_size=100, in_flight=3, timeout=120) as producer:
            killed_at = None
            for start in range(0, TOTAL, CALL):
                if killed_at is None and len(acknowledged) >= KILL_AFTER:
                    assert len(producer.addresses) == 2, producer.addresses
                    # Killed from another thread while the next call's requests are in flight.
                    threading.Timer(0.05, first.kill).start()
                    killed_at = len(acknowledged)
                outcomes = producer.insert(ids[start:start + CALL], rows[start:start + CALL])
                errors = [o for o in outcomes if isinstance(o, lshcluster.ItemError)]
                assert not errors, errors[:3]
                acknowledged.update((v.id, v) for v in outcomes)
            assert killed_at is not None and first.popen.poll() is not None
            assert producer.addresses[0] == second_url

            stats = producer.stats()
            assert stats.vectors == TOTAL, f"{stats.vectors} stored, {TOTAL} acknowledged\n{second.output[-3000:]}"
            for id in ids[::97]:
                assert producer.get(id).verdict.vector_id == acknowledged[id].vector_id
            duplicates = sum(v.is_duplicate for v in acknowledged.values())
            assert duplicates >= TOTAL // 2 * 0.99, duplicates

        consumer.join(120)
        consumer_done.set()
        verdicts = [e.id for e in events if e.kind == "verdict"]
        assert sorted(verdicts) == sorted(ids), f"{len(verdicts)} verdict events for {TOTAL} vectors, {len(set(verdicts))} distinct"
        cursors = [e.cursor for e in events]
        assert cursors == sorted(set(cursors)), "the feed repeated or reordered an event across the kill"
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- the silo killed:\n{first.output[-3000:]}\n--- the other silo:\n{second.output[-8000:]}") from None
    finally:
        first.kill()
        second.stop()
