"""Everything of ours that reaches into faust-streaming's internals, and nothing else does.

Each module overrides or calls private parts of faust-streaming 0.15.3 (and of its aiokafka
driver), read in that version's source: the transport's fetch and seek handling and its Fetcher
loop (`transport`), fetched messages handed to the streams' queues (`delivery`), an agent's
events a batch at a time (`batches`), the Prometheus sensor (`sensors`), the transactions of
exactly_once (`transactions`), the tables' changelog writes, recovery and RocksDB store
(`tables`), the leader election topic (`leader`), and of aiokafka 0.14.0 (setup.cfg pins it):
giving up on a producer's unwritten records, and the enrich agent's records sent to the aiokafka
producer under Faust's (`producer`), and a consumer stopped while its fetches fail (`consumer`).
Another version may change any of them, so importing this package checks the installed Faust
version first.
"""

import faust

from weather_app.errors import WeatherError

WRITTEN_FOR = "0.15.3"


class UnsupportedFaustVersion(WeatherError):
    pass


def check_faust_version(installed: str) -> None:
    if installed != WRITTEN_FOR:
        raise UnsupportedFaustVersion(
            f"weather_app.faust_internals was written for faust-streaming {WRITTEN_FOR} but "
            f"{installed} is installed: install faust-streaming=={WRITTEN_FOR} (setup.cfg pins "
            "it), or check every override in weather_app/faust_internals against the new version"
        )


check_faust_version(faust.__version__)
