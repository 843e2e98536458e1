"""The Kafka transport the app runs on: Faust's aiokafka driver, with a table recovery hang fixed.

After a rebalance Faust stops the flow of records, seeks each changelog partition to where table
recovery starts, then resumes the flow. A fetch that Faust's Fetcher started before the rebalance
can still be waiting in the consumer thread during that seek (it waits up to 1 s and, with every
partition paused, takes records of any partition). When it comes back with changelog records
before the flow resumes, Faust's `Consumer.getmany` drops the batch and seeks back to the
committed offsets instead, but changelog partitions have no committed offsets: the records are
never fetched again and recovery waits forever ("No event received for active tp ...").
"""

import aiokafka
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def _fetch_records(
        self,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: set[TP],
        timeout: float | None = None,  # noqa: ASYNC109 (Faust's signature)
        max_records: int | None = None,
    ) -> RecordMap:
        records = await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        if records and not self.consumer.flow_active:
            # getmany will drop this batch: rewind so that it is fetched again. This runs on the
            # consumer thread right after the fetch, so no seek can have happened in between.
            for tp, batch in records.items():
                consumer.seek(tp, batch[0].offset)
            return {}
        return records


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
