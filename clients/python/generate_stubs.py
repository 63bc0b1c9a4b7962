#!/usr/bin/python3
"""Generates lshcluster/_proto from the repository's lshcluster.proto with grpc_tools (Debian's python3-grpc-tools).

The stubs are checked in, so that the package installs offline with no code generator; tests/test_stubs.py fails
when they differ from what this script makes of the .proto now. Run it after changing the .proto:

    /usr/bin/python3 clients/python/generate_stubs.py
"""
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "src", "LshCluster.Protocol", "Protos")
OUT_DIR = os.path.join(HERE, "lshcluster", "_proto")
NAMES = ("lshcluster_pb2.py", "lshcluster_pb2_grpc.py")


def generate() -> dict:
    """The stubs as they should be now: file name -> text."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory(prefix="lshcluster-stubs-") as out:
        include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}",
                          os.path.join(PROTO_DIR, "lshcluster.proto")])
        if rc != 0:
            raise RuntimeError(f"protoc failed with exit code {rc}")
        stubs = {}
        for name in NAMES:
            with open(os.path.join(out, name), encoding="utf-8") as f:
                text = f.read()
            # protoc writes a top-level import; inside the package the messages are a sibling module.
            stubs[name] = re.sub(r"^import lshcluster_pb2 as", "from . import lshcluster_pb2 as", text, flags=re.M)
        return stubs


def main() -> int:
    for name, text in generate().items():
        with open(os.path.join(OUT_DIR, name), "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(os.path.join(OUT_DIR, name))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
