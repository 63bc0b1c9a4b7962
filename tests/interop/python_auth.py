#!/usr/bin/python3
"""Credentials through a real non-.NET client (Debian's python3-grpcio) against a silo that asks for API keys.

Usage: LSHC_API_KEY=PRODUCER-KEY python_auth.py URL DIMENSION
Checks that a call without a key and a call with an unknown key are UNAUTHENTICATED, that the producer key may
insert and query, and that it is PERMISSION_DENIED on Admin.Drain and Admin.Delete.
Prints one line per check; exits non-zero at the first failure.
"""
import os
import random
import sys

import grpc

from python_client import check, load_stubs, unit


def refused(call, code, what):
    try:
        call()
    except grpc.RpcError as e:
        check(e.code() == code, f"{what}: {e.code()} ({e.details()})")
        return e.details()
    check(False, f"{what}: the call was accepted")


def main():
    url, dimension = sys.argv[1], int(sys.argv[2])
    key = os.environ["LSHC_API_KEY"]
    pb, stubs = load_stubs()
    channel = grpc.insecure_channel(url.replace("http://", ""))
    ingest, query, admin = stubs.IngestStub(channel), stubs.QueryStub(channel), stubs.AdminStub(channel)
    producer = (("authorization", f"Bearer {key}"),)
    stranger = (("authorization", "Bearer not-a-key-of-this-cluster"),)

    detail = refused(lambda: query.GetStats(pb.GetStatsRequest()), grpc.StatusCode.UNAUTHENTICATED, "no key")
    check("API key" in detail, "the refusal says an API key is needed")
    refused(lambda: query.GetStats(pb.GetStatsRequest(), metadata=stranger), grpc.StatusCode.UNAUTHENTICATED, "an unknown key")
    vector = pb.Vector(id="py-auth-0", values=unit([random.Random(3).gauss(0, 1) for _ in range(dimension)]))
    refused(lambda: ingest.Insert(pb.InsertRequest(vectors=[vector])), grpc.StatusCode.UNAUTHENTICATED, "an insert without a key")

    response = ingest.Insert(pb.InsertRequest(vectors=[vector]), metadata=producer)
    check(response.results[0].WhichOneof("outcome") == "verdict", "the producer key inserts")
    check(query.GetStats(pb.GetStatsRequest(), metadata=producer).vectors >= 1, "the producer key reads the stats")

    detail = refused(lambda: admin.Drain(pb.DrainRequest(), metadata=producer), grpc.StatusCode.PERMISSION_DENIED, "the producer key drains")
    check("admin" in detail, "the refusal says an admin key is needed")
    refused(lambda: admin.Delete(pb.DeleteRequest(ids=["o1"]), metadata=producer), grpc.StatusCode.PERMISSION_DENIED, "the producer key deletes")
    print("python auth: all checks passed", flush=True)


if __name__ == "__main__":
    main()
