"""scripts/install-telegraf.sh keeps a cached Telegraf that has every plugin the project uses and
rebuilds one that lacks a plugin (a binary built before the plugin was added).

A fake `telegraf` answers `--version` and `plugins`; a fake `go` answers `env GOVERSION` and
`install`, writing a Telegraf that has every plugin and noting its arguments.
"""

import os
import subprocess
from pathlib import Path

import pytest

from tests.harness.paths import REPO

PLUGINS = (
    "inputs.kafka_consumer",
    "parsers.json_v2",
    "processors.converter",
    "outputs.influxdb_v2",
    "outputs.file",
    "outputs.health",
)


def fake_telegraf(path: Path, plugins: tuple[str, ...]) -> None:
    listed = "\\n".join(plugins)
    path.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        '  --version) echo "Telegraf 1.37.2" ;;\n'
        f'  plugins) printf "{listed}\\n" ;;\n'
        "esac\n"
    )
    path.chmod(0o755)


@pytest.fixture
def fake_go(tmp_path: Path) -> Path:
    """A `go` on PATH whose `install` writes a Telegraf with every plugin into $GOBIN."""
    bin_dir = tmp_path / "path"
    bin_dir.mkdir()
    complete = tmp_path / "complete-telegraf"
    fake_telegraf(complete, PLUGINS)
    go = bin_dir / "go"
    go.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{tmp_path}/go-calls"\n'
        'case "$1" in\n'
        '  env) echo "go1.25.5" ;;\n'
        f'  install) mkdir -p "$GOBIN" && cp "{complete}" "$GOBIN/telegraf" ;;\n'
        "esac\n"
    )
    go.chmod(0o755)
    return bin_dir


def install(cache: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "install-telegraf.sh")],
        env={**os.environ, "WSL_CACHE": str(cache), "PATH": f"{path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_cached_telegraf_without_a_plugin_is_rebuilt_with_all_of_them(
    tmp_path: Path, fake_go: Path
):
    cache = tmp_path / "cache"
    (cache / "bin").mkdir(parents=True)
    without_converter = tuple(p for p in PLUGINS if p != "processors.converter")
    fake_telegraf(cache / "bin" / "telegraf", without_converter)
    result = install(cache, fake_go)
    assert result.returncode == 0, result.stderr
    assert "lacks processors.converter: rebuilding it" in result.stdout
    assert "telegraf installed" in result.stdout
    [build] = [
        c for c in (tmp_path / "go-calls").read_text().splitlines() if c.startswith("install")
    ]
    assert "processors.converter" in build
    listed = subprocess.run(
        [str(cache / "bin" / "telegraf"), "plugins"], capture_output=True, text=True, check=True
    )
    assert listed.stdout.split() == list(PLUGINS)


def test_a_cached_telegraf_with_every_plugin_is_kept(tmp_path: Path, fake_go: Path):
    cache = tmp_path / "cache"
    (cache / "bin").mkdir(parents=True)
    fake_telegraf(cache / "bin" / "telegraf", PLUGINS)
    result = install(cache, fake_go)
    assert result.returncode == 0, result.stderr
    assert "telegraf already installed" in result.stdout
    assert not (tmp_path / "go-calls").exists()
