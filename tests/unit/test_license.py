"""The LICENSE file is the license setup.cfg declares; the README names the weather data's terms."""

import configparser
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VISUAL_CROSSING_TERMS = "https://www.visualcrossing.com/weather-service-terms/"


def declared_license() -> str:
    metadata = configparser.ConfigParser()
    metadata.read(REPO / "setup.cfg", encoding="utf-8")
    return metadata["metadata"]["license"]


def test_the_license_file_is_the_declared_license():
    assert declared_license() == "MIT"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_the_readme_names_the_license_and_the_visual_crossing_terms():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "[LICENSE](LICENSE)" in readme
    assert VISUAL_CROSSING_TERMS in readme
