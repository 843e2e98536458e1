import logging

from weather_app.broker.client_logs import HoldRepeats


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object, level: int = logging.ERROR, name: str = "aiokafka"):
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


LOST = "Unable connect to node with id %s: %s"


def test_a_repeated_error_goes_through_once_a_window_saying_how_many_were_held_back():
    clock = Clock()
    repeats = HoldRepeats(10, clock)
    assert repeats.filter(record(LOST, 1, "refused"))
    held = [repeats.filter(record(LOST, 1, "refused")) for _ in range(500)]
    assert not any(held)
    clock.now = 10.5
    again = record(LOST, 2, "refused")
    assert repeats.filter(again)
    assert again.getMessage() == (
        "Unable connect to node with id 2: refused (500 more like it in the last 10s not shown)"
    )
    clock.now = 21
    alone = record(LOST, 1, "refused")
    assert repeats.filter(alone)
    assert alone.getMessage() == "Unable connect to node with id 1: refused"


def test_each_message_and_logger_is_held_on_its_own():
    repeats = HoldRepeats(10, Clock())
    assert repeats.filter(record(LOST, 1, "refused"))
    assert repeats.filter(record("Unable to update metadata from %s", [1]))
    assert repeats.filter(record(LOST, 1, "refused", name="aiokafka.conn"))
    assert not repeats.filter(record(LOST, 1, "refused"))


def test_debug_and_info_records_are_left_alone():
    repeats = HoldRepeats(10, Clock())
    for _ in range(3):
        assert repeats.filter(record("Metadata for topic %s", "raw", level=logging.INFO))
        assert repeats.filter(record("Sending %s", "x", level=logging.DEBUG))


# The loggers of aiokafka's connection, metadata, fetch, heartbeat and produce errors.
CLIENT_LOGGERS = (
    "aiokafka",
    "aiokafka.conn",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.producer.sender",
)


def test_the_app_holds_the_repeats_of_aiokafka_s_client_loggers():
    import weather_app.app  # noqa: F401  (the app installs the filter when it is built)

    for name in CLIENT_LOGGERS:
        filters = logging.getLogger(name).filters
        assert [f for f in filters if isinstance(f, HoldRepeats)], name
