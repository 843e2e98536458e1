"""What a Faust agent can drain here at best: the enrich agent's path with none of its work.

`python -m faust -A bench.faust_ceiling worker`, with BENCH_BROKER, BENCH_APP_ID,
BENCH_RAW_TOPIC and BENCH_OUT_TOPIC set. The agent forwards every raw record unchanged in the
enrich agent's batches (`take_events` with the app's defaults, records sent straight to the
producer, one flush per batch before Faust acks it) and the app's `FAUST_STREAM_OPTIONS`; no rules,
no tables, no Prometheus sensor. The gap between this and the pure loop is Faust's per-event cost.
"""

import os
from typing import Any, cast

import faust
from faust import Stream, StreamT

from weather_app.settings import FAUST_STREAM_OPTIONS, StreamSettings

DEFAULTS = StreamSettings()

app = faust.App(
    os.environ["BENCH_APP_ID"],
    broker=f"kafka://{os.environ['BENCH_BROKER']}",
    store="memory://",
    web_enabled=False,
    datadir=os.environ.get("BENCH_DATADIR", "bench-ceiling-data"),
    **FAUST_STREAM_OPTIONS,
)
raw_topic = app.topic(os.environ["BENCH_RAW_TOPIC"], key_type=bytes, value_type=bytes)
OUT_TOPIC = os.environ["BENCH_OUT_TOPIC"]


@app.agent(raw_topic)
async def forward(stream: StreamT[bytes]) -> Any:
    batches = cast(Stream[bytes], stream).take_events  # StreamT does not declare take_events
    async for events in batches(DEFAULTS.batch_size, within=DEFAULTS.batch_seconds):
        producer = await app.maybe_start_producer()
        for event in events:
            await producer.send(OUT_TOPIC, event.key, event.value, None, None, None)
        await producer.flush()
