import gc

from weather_app.worker import freeze_startup_objects


def test_the_objects_made_at_startup_leave_the_full_collections():
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # the modules, Faust's and aiokafka's objects
    finally:
        gc.unfreeze()
