"""What a Faust agent can drain here at best: the enrich agent's path with none of its work.

`python -m faust -A bench.faust_ceiling worker`, with BENCH_BROKER, BENCH_APP_ID,
BENCH_RAW_TOPIC and BENCH_OUT_TOPIC set. The agent forwards every raw record unchanged in the
enrich agent's batches (the app's transport, `take_batches` with the app's defaults, records sent
straight to the producer, one flush per batch before the batch is acked) and the app's
`FAUST_STREAM_OPTIONS`; no rules, no tables, no Prometheus sensor. The gap between this and the
pure loop is what Faust's path costs per record.
"""

import os
from typing import Any

import faust
from faust import StreamT

from weather_app.faust_internals import transport
from weather_app.faust_internals.batches import take_batches
from weather_app.faust_internals.transactions import ack_when_handled
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
app.transport = transport.Transport(app.conf.broker_consumer, app)
raw_topic = app.topic(os.environ["BENCH_RAW_TOPIC"], key_type=bytes, value_type=bytes)
OUT_TOPIC = os.environ["BENCH_OUT_TOPIC"]


@app.agent(raw_topic)
async def forward(stream: StreamT[bytes]) -> Any:
    async for events in take_batches(stream, DEFAULTS.batch_size, DEFAULTS.batch_seconds):
        async with ack_when_handled(events):
            producer = await app.maybe_start_producer()
            for event in events:
                await producer.send(OUT_TOPIC, event.key, event.value, None, None, None)
            await producer.flush()
