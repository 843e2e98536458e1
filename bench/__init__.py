"""Benchmarks of the enrichment speed layer against the limit and a peer, on a real local Kafka.

`python -m bench` (or `make bench`) runs every contender on the same preloaded data and writes
BENCHMARKS.md; see bench/run.py for what is measured and how.
"""
