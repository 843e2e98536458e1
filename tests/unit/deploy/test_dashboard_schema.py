"""The dashboards decoded by Grafana's own generated schema types, strictly.

scripts/install-schema-check.sh builds grafana/schema-check (grafana-foundation-sdk's
`Dashboard.UnmarshalJSONStrict`, panel options and field config by each panel type's schema)
through the Go module proxy, cached like Telegraf; a field Grafana's schema refuses fails here
with its path.
"""

import json
import subprocess
from pathlib import Path

import pytest

from tests.harness.paths import cache_dir
from tests.unit.deploy import DASHBOARD_FILE, GRAFANA, REPO, dashboard


@pytest.fixture(scope="module")
def schema_check() -> Path:
    built = subprocess.run(
        [REPO / "scripts" / "install-schema-check.sh"], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return cache_dir() / "bin" / "grafana-schema-check"


def check(checker: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([checker, *paths], capture_output=True, text=True, timeout=60)


def test_every_provisioned_dashboard_decodes_strictly(schema_check: Path):
    boards = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert DASHBOARD_FILE in boards
    result = check(schema_check, *boards)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        (lambda board: board["panels"][0]["gridPos"].update(h="5"), "panels[0].gridPos.h"),
        (lambda board: board.update(refresh=10), "refresh"),
        (lambda board: board["panels"][4]["options"]["legend"].pop("calcs"), "legend.calcs"),
        (lambda board: board.update(panelz=[]), "unexpected field 'panelz'"),
    ],
    ids=["string gridPos.h", "numeric refresh", "missing legend.calcs", "unknown field"],
)
def test_a_field_grafanas_schema_refuses_fails_with_its_path(
    schema_check: Path, tmp_path: Path, change, refused: str
):
    board = dashboard()
    change(board)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(board))
    result = check(schema_check, broken)
    assert result.returncode == 1
    assert refused in result.stderr
    assert str(broken) in result.stderr
