#!/usr/bin/env python3
"""Prints the ratios of the last `cargo bench --bench scheduler` run.

Reads criterion's estimates (medians) under target/criterion and prints, per
workload, statepool's time over rayon's and over the ideal parallel time
(sequential time divided by the number of workers), as a Markdown table.
Usage: python3 benches/report.py [WORKERS]
"""

import json
import os
import sys

root = os.path.join(os.path.dirname(__file__), "..", "target", "criterion")
workers = int(sys.argv[1]) if len(sys.argv) > 1 else os.cpu_count()


def median_ns(group, bench):
    path = os.path.join(root, group, bench, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def fmt(ns):
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}"


groups = sorted(d for d in os.listdir(root) if d[:1].isdigit())
print(f"| workload | statepool | rayon | scope | sequential | statepool/rayon | statepool/ideal ({workers} workers) |")
print("|---|---|---|---|---|---|---|")
for group in groups:
    benches = sorted(os.listdir(os.path.join(root, group)))
    # Benchmarks with a parameter live one level deeper (name/param).
    def find(name):
        direct = median_ns(group, name)
        if direct is not None:
            return direct
        base = os.path.join(root, group, name)
        if os.path.isdir(base):
            for param in os.listdir(base):
                got = median_ns(group, os.path.join(name, param))
                if got is not None:
                    return got
        return None
    seq = find("sequential")
    rayon = find("rayon")
    scope = find("scope")
    for name in [b for b in benches if b.startswith("statepool")]:
        mine = find(name)
        ideal = None if seq is None else seq / workers
        print(f"| {group}/{name} | {fmt(mine)} | {fmt(rayon)} | {fmt(scope)} | {fmt(seq)} | {ratio(mine, rayon)} | {ratio(mine, ideal)} |")
        if group.startswith("6_") and seq is not None and mine is not None:
            n = int(os.listdir(os.path.join(root, group, name))[0])
            print(f"| {group}/{name}: overhead per item | {fmt((mine - seq) / n)} | | | | | |")
