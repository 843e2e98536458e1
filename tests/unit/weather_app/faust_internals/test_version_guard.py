from pathlib import Path

import faust
import pytest

from weather_app.errors import WeatherError
from weather_app.faust_internals import WRITTEN_FOR, check_faust_version


def test_the_seam_is_written_for_the_installed_faust_streaming():
    assert faust.__version__ == WRITTEN_FOR
    check_faust_version(faust.__version__)


def test_another_faust_streaming_is_refused_with_both_versions_named():
    with pytest.raises(WeatherError) as refused:
        check_faust_version("0.16.0")
    message = str(refused.value)
    assert f"written for faust-streaming {WRITTEN_FOR} but 0.16.0 is installed" in message
    assert "\n" not in message


def test_setup_cfg_pins_the_version_the_seam_was_written_for():
    setup = (Path(__file__).parents[4] / "setup.cfg").read_text()
    assert f"faust-streaming=={WRITTEN_FOR}\n" in setup
