#!/usr/bin/python3
"""A Python producer streaming an idx file (Fashion-MNIST) through lshcluster.Client, timed as `lshc ingest` is.

Usage: python_ingest.py URL IDX_FILE [--batch 5000] [--in-flight 2] [--limit N]
Reads the images with NumPy (gzip), sends them in slices of 10 batches and prints one line: vectors, seconds, rate,
duplicates and refused items. bench/python-vs-lshc.sh runs it side by side with `lshc ingest --server`.
"""
import argparse
import gzip
import struct
import time

import numpy as np

import lshcluster


def read_idx(path: str) -> np.ndarray:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, kind, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != 0x08:
        raise SystemExit(f"{path}: not an idx file of unsigned bytes")
    shape = struct.unpack(f">{dims}I", data[4:4 + 4 * dims])
    images = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape[0], -1)
    return images.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("idx")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()  # reading the file counts, as it does for lshc ingest
    vectors = read_idx(args.idx)
    if args.limit:
        vectors = vectors[: args.limit]
    ids = [str(i) for i in range(len(vectors))]  # the ids lshc ingest gives idx rows: their index
    duplicates = refused = 0
    with lshcluster.Client(args.url, batch_size=args.batch, in_flight=args.in_flight, timeout=300) as client:
        step = args.batch * 10
        for start in range(0, len(vectors), step):
            for outcome in client.insert(ids[start:start + step], vectors[start:start + step]):
                if isinstance(outcome, lshcluster.ItemError):
                    refused += 1
                elif outcome.is_duplicate:
                    duplicates += 1
        seconds = time.perf_counter() - started
    # The line lshc ingest prints, so that the two read side by side.
    print(f"ingested {len(vectors) - refused:,} vectors in {seconds:.1f} s ({(len(vectors) - refused) / seconds:,.0f}/s): "
          f"{duplicates:,} duplicates, {refused:,} refused")


if __name__ == "__main__":
    main()
