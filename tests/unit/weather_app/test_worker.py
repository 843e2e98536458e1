import gc

from weather_app.app import app, settings
from weather_app.worker import app_topics, freeze_startup_objects


def test_the_objects_made_at_startup_leave_the_full_collections():
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # the modules, Faust's and aiokafka's objects
    finally:
        gc.unfreeze()


def test_table_changelogs_are_compacted_in_hourly_segments():
    changelogs = [topic for topic in app_topics(settings) if topic.name.endswith("-changelog")]
    assert len(changelogs) == 2  # last_seen, history
    for topic in changelogs:
        assert topic.topic_configs == {"cleanup.policy": "compact", "segment.ms": "3600000"}


def test_workers_keep_standby_table_copies_only_when_asked():
    assert settings.standby_replicas == 0
    assert app.conf.table_standby_replicas == settings.standby_replicas
