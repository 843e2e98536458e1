"""The web view: JSON about every city, the live page, Prometheus `/metrics`."""
