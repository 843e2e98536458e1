import gc

from weather_app.app import app, settings
from weather_app.broker.topics import app_topics
from weather_app.faust_internals.leader import leader_topic_name
from weather_app.worker import changelog_topics, freeze_startup_objects


def test_the_objects_made_at_startup_leave_the_full_collections():
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # the modules, Faust's and aiokafka's objects
    finally:
        gc.unfreeze()


def test_the_worker_declares_both_table_changelogs_and_the_leader_topic():
    topics = app_topics(settings, changelog_topics(), leader_topic_name(app))
    names = {topic.name for topic in topics}
    assert {table.changelog_topic.get_topic_name() for table in app.tables.values()} <= names
    assert len(changelog_topics()) == 2  # last_seen, history
    assert f"{settings.stream.app_id}-__assignor-__leader" in names


def test_workers_keep_standby_table_copies_only_when_asked():
    assert settings.stream.standby_replicas == 0
    assert app.conf.table_standby_replicas == settings.stream.standby_replicas
