#!/usr/bin/python3
"""Parses Prometheus text exposition from stdin with the reference parser (Debian python3-prometheus-client) and
prints the families as JSON: {name: {"type": ..., "samples": [[sample name, {labels}, value], ...]}}.
A format error raises, and the script exits non-zero with the parser's message."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = {
        "type": family.type,
        "samples": [[s.name, s.labels, None if math.isinf(s.value) or math.isnan(s.value) else s.value] for s in family.samples],
    }
json.dump(families, sys.stdout)
