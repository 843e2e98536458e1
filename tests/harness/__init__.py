"""The process harness shared by the integration tests and the benchmarks (`python -m bench`).

`paths` (the repository, the cache), `ports` (free loopback ports), `processes` (children with a
log file and our `scripts/*.sh` services, all stopped by PID), `kafka` (a broker or a 3-node
cluster through scripts/kafka.sh; topic create, produce and read helpers), `waiting` (polling).
"""
