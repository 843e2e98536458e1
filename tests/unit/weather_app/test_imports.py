"""Importing the package or any module that does not register on the app builds nothing, reads no
environment and never exits; `faust -A weather_app` still finds the app."""

import pkgutil
import subprocess
import sys
import textwrap

import weather_app

# The app module and the modules that register on it or need it built.
APP_MODULES = {
    "weather_app.app",
    "weather_app.worker",
    "weather_app.cli.commands",
    "weather_app.web.views",
}
PROBE = textwrap.dedent(
    """
    import importlib, os, sys

    class Recording(type(os.environ)):
        readers = set()

        def __getitem__(self, key):
            frame = sys._getframe(1)
            while frame.f_globals.get("__name__") in ("os", "_collections_abc", "collections.abc"):
                frame = frame.f_back
            Recording.readers.add(frame.f_globals.get("__name__", "?"))
            return super().__getitem__(key)

    os.environ.__class__ = Recording
    if os.environ.get("PROBE_BAD_CONFIG"):
        os.environ["WEATHER_PARTITIONS"] = "not-a-number"  # a configuration error, if read
    for name in sys.argv[1:]:
        importlib.import_module(name)
    ours = sorted(r for r in Recording.readers if r.split(".")[0] in ("weather_app", "models"))
    print("built" if "weather_app.app" in sys.modules else "not built", ours)
    """
)


def probe(*modules: str, bad_config: bool) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **({"PROBE_BAD_CONFIG": "1"} if bad_config else {})}
    return subprocess.run(
        [sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, timeout=60, env=env
    )


def modules_without_the_app() -> list[str]:
    names = ["weather_app", "models", "models.codec", "models.readings"]
    for module in pkgutil.walk_packages(weather_app.__path__, "weather_app."):
        if module.name not in APP_MODULES:
            names.append(module.name)
    return names


def test_every_module_but_the_app_s_imports_without_building_reading_or_exiting():
    names = modules_without_the_app()
    assert "weather_app.rules.forecast" in names
    assert "weather_app.faust_internals.transport" in names
    imported = probe(*names, bad_config=True)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "not built []"


def test_the_probe_sees_the_app_module_read_the_environment():
    imported = probe("weather_app.app", bad_config=False)
    assert imported.stdout.strip() == "built ['weather_app.settings']", imported.stderr


def test_the_app_module_stops_on_a_configuration_error_with_the_variable_named():
    imported = probe("weather_app.app", bad_config=True)
    assert imported.returncode != 0
    assert "WEATHER_PARTITIONS='not-a-number' is invalid" in imported.stderr


def test_faust_finds_the_app_through_the_package():
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import weather_app, faust; print(isinstance(weather_app.app, faust.App))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert probe.stdout.strip() == "True", probe.stderr
