#!/usr/bin/python3
"""A real non-.NET gRPC client (Debian's python3-grpcio) against a running silo.

Usage: python_client.py URL DIMENSION
Generates the stubs from src/LshCluster.Protocol/Protos with grpc_tools.protoc into a temporary directory, then:
inserts vectors with planted near-duplicates through Ingest.Insert and Ingest.InsertStream, checks every verdict,
asks Query for a vector, its cluster, near-duplicates of a vector, the cluster list and the stats, and checks that
bad input is refused per item (wrong dimension) and per call (unknown rung -> INVALID_ARGUMENT).
Prints one line per check; exits non-zero at the first failure.
"""
import atexit
import math
import os
import random
import shutil
import sys
import tempfile

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS = os.path.join(HERE, "..", "..", "src", "LshCluster.Protocol", "Protos")


def load_stubs():
    out = tempfile.mkdtemp(prefix="lshc-py-stubs-")
    atexit.register(shutil.rmtree, out, True)  # the stubs are made again at every run
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{PROTOS}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}",
                      os.path.join(PROTOS, "lshcluster.proto")])
    if rc != 0:
        sys.exit(f"protoc failed with {rc}")
    sys.path.insert(0, out)
    import lshcluster_pb2
    import lshcluster_pb2_grpc
    return lshcluster_pb2, lshcluster_pb2_grpc


def check(condition, what):
    if not condition:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok   {what}", flush=True)


def unit(values):
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def main():
    url, dimension = sys.argv[1], int(sys.argv[2])
    pb, stubs = load_stubs()
    target = url.replace("http://", "")
    channel = grpc.insecure_channel(target)
    ingest = stubs.IngestStub(channel)
    query = stubs.QueryStub(channel)
    rng = random.Random(7)

    # 200 random unit vectors, and for the first 50 a near-duplicate at cosine ~0.999.
    base = [unit([rng.gauss(0, 1) for _ in range(dimension)]) for _ in range(200)]
    near = []
    for v in base[:50]:
        noise = unit([rng.gauss(0, 1) for _ in range(dimension)])
        near.append(unit([a + 0.04 * b for a, b in zip(v, noise)]))

    request = pb.InsertRequest(vectors=[pb.Vector(id=f"py-{i}", values=v) for i, v in enumerate(base)])
    response = ingest.Insert(request, timeout=60)
    check(len(response.results) == 200, "Insert answers every item")
    check(all(r.WhichOneof("outcome") == "verdict" for r in response.results), "every item has a verdict")
    news = sum(1 for r in response.results if r.verdict.kind == pb.VERDICT_KIND_NEW)
    check(news == 200, f"random vectors are new ({news} of 200)")

    def batches():
        for start in range(0, 50, 10):
            yield pb.InsertRequest(vectors=[pb.Vector(id=f"py-near-{i}", values=near[i]) for i in range(start, start + 10)])

    streamed = ingest.InsertStream(batches(), timeout=60)
    check(len(streamed.results) == 50 and [r.index for r in streamed.results] == list(range(50)), "InsertStream answers every item in order")
    dups = [r.verdict for r in streamed.results if r.verdict.kind == pb.VERDICT_KIND_DUPLICATE]
    check(len(dups) >= 49, f"planted near-duplicates found ({len(dups)} of 50)")
    check(all(d.best_match_id == f"py-{d.id.split('-')[-1]}" and d.best_cosine > 0.99 for d in dups), "each duplicate names its original as best match")

    again = ingest.Insert(pb.InsertRequest(vectors=[pb.Vector(id="py-near-3", values=near[3])]), timeout=30)
    check(again.results[0].verdict.repeated, "re-sending an id returns its original verdict, marked repeated")

    bad = ingest.Insert(pb.InsertRequest(vectors=[pb.Vector(id="py-bad", values=[1.0, 2.0]), pb.Vector(id="py-ok", values=base[0][::-1])]), timeout=30)
    check(bad.results[0].error.code == "wrong_dimension" and "items[0].vector" in bad.results[0].error.field, "wrong dimension refused, naming the field")
    check(bad.results[1].WhichOneof("outcome") == "verdict", "the valid item of the same batch goes in")

    got = query.GetVector(pb.GetVectorRequest(id="py-near-7"), timeout=30)
    check(got.verdict.kind == pb.VERDICT_KIND_DUPLICATE and len(got.clusters) >= 1 and got.clusters[-1].size >= 2, "GetVector returns the verdict and its clusters")
    cluster = query.GetCluster(pb.GetClusterRequest(id="py-7"), timeout=30)
    check({m.id for m in cluster.members} >= {"py-7", "py-near-7"}, "GetCluster lists both members")
    neighbours = query.NearDuplicates(pb.NearDuplicatesRequest(values=base[11]), timeout=30)
    check(len(neighbours.neighbours) >= 1 and neighbours.neighbours[0].id == "py-11", "NearDuplicates finds the vector itself first")
    listed = query.ListClusters(pb.ListClustersRequest(take=100), timeout=30)
    check(len(listed.clusters) >= 49 and all(c.size >= 2 for c in listed.clusters), "ListClusters lists the clusters")
    stats = query.GetStats(pb.GetStatsRequest(), timeout=30)
    check(stats.vectors == 251 and stats.duplicates >= 49, f"GetStats counts vectors ({stats.vectors}) and duplicates ({stats.duplicates})")

    try:
        query.ListClusters(pb.ListClustersRequest(rung=0.5), timeout=30)
        check(False, "an unknown rung is refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "rung" in e.details(), f"an unknown rung is refused: {e.code()} {e.details()}")

    try:
        query.GetVector(pb.GetVectorRequest(id="never-sent"), timeout=30)
        check(False, "an unknown id is NOT_FOUND")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "an unknown id is NOT_FOUND")

    # The silo takes messages up to 64 MiB (a full batch of large vectors), not gRPC's default 4 MiB: an 8 MB query
    # is read and refused for its length, naming the field; a 68 MB one is refused for its size.
    try:
        query.NearDuplicates(pb.NearDuplicatesRequest(values=[0.5] * (2 * 1024 * 1024)), timeout=60)
        check(False, "an 8 MB query of the wrong dimension is refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "values" in e.details(),
              f"an 8 MB query is read and refused for its dimension: {e.code()} {e.details()}")
    try:
        query.NearDuplicates(pb.NearDuplicatesRequest(values=[0.5] * (17 * 1024 * 1024)), timeout=60)
        check(False, "a 68 MB message is refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, f"a 68 MB message is refused for its size: {e.code()} {e.details()}")

    print("python interop: all checks passed", flush=True)


if __name__ == "__main__":
    main()
