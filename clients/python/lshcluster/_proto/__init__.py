"""Stubs generated from src/LshCluster.Protocol/Protos/lshcluster.proto by generate_stubs.py (do not edit)."""
