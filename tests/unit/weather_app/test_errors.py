import re
from pathlib import Path

import pytest

from weather_app.errors import exit_with

REPO = Path(__file__).parents[3]
EXITS = re.compile(r"\bSystemExit\b|\bsys\.exit\b|\bos\._exit\b")


def test_exit_with_stops_with_one_line_naming_the_program(capsys):
    with pytest.raises(SystemExit) as stopped:
        exit_with("KAFKA_BROKER is wrong: fix it", code=2)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == "weather-speed-layer: KAFKA_BROKER is wrong: fix it\n"


def test_exit_with_is_the_only_way_the_code_stops_a_process():
    sources = [
        *REPO.glob("weather_app/**/*.py"),
        *REPO.glob("agents/*.py"),
        *REPO.glob("models/*.py"),
    ]
    exiting = {
        str(path.relative_to(REPO))
        for path in sources
        if EXITS.search(path.read_text(encoding="utf-8"))
    }
    assert exiting == {"weather_app/errors.py"}
