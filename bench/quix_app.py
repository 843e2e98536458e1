"""The peer: the same enrichment as a Quix Streams application, in its default configuration.

Run as `python -m bench.quix_app BROKER RAW_TOPIC OUT_TOPIC GROUP STATE_DIR` until SIGTERM.
Only what the job needs is set: the broker, the group, reading from the earliest offset, bytes in
and out (our own codec, as in the agent). Everything else is Quix's default: at-least-once,
idempotent producer, commit every 5 s. The output key is the input key (encode_key(city)).
"""

import sys

from quixstreams import Application

from bench.workload import Enricher


def main(broker: str, raw_topic: str, out_topic: str, group: str, state_dir: str) -> None:
    enrich = Enricher()

    def step(value: bytes) -> bytes | None:
        out = enrich(value)
        return None if out is None else out[1]

    app = Application(
        broker_address=broker,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    source = app.topic(raw_topic, key_deserializer="bytes", value_deserializer="bytes")
    target = app.topic(out_topic, key_serializer="bytes", value_serializer="bytes")
    frame = app.dataframe(source)
    frame = frame.apply(step).filter(lambda value: value is not None)
    frame.to_topic(target)
    app.run()


if __name__ == "__main__":
    main(*sys.argv[1:6])
