"""``hakit-cib corosync`` against corosync's own parser (corosync -t)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cib_builder import cli, corosync, pacemaker, topology
from tests.unavailable import unavailable

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"
LAB = ROOT / "tests" / "lab" / "lab-3-controllers.toml"
#: The live lab's: token_coefficient 0.
LAB_CLUSTER = ROOT / "tests" / "lab" / "lab-cluster.toml"


@pytest.fixture(autouse=True)
def _corosync_installed():
    if shutil.which("corosync", path="/usr/sbin:/usr/bin") is None:
        unavailable("corosync is not installed")


@pytest.mark.parametrize(
    "path", [EXAMPLE, LAB, LAB_CLUSTER], ids=["example", "lab", "live lab"]
)
def test_the_generated_file_passes_corosync_t(path, tmp_path):
    out = tmp_path / "corosync.conf"
    result = CliRunner().invoke(cli.main, ["corosync", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text == corosync.render(corosync.build(topology.load(path)))
    assert pacemaker.corosync_test(text) is None


def test_corosync_t_finds_what_corosync_refuses():
    text = corosync.render(corosync.build(topology.load(EXAMPLE)))
    refused = pacemaker.corosync_test(text.replace("aes256", "aes999"))
    assert refused is not None
    assert "Invalid cipher type" in refused
    assert "hakit-corosync-" not in refused  # the temporary path is not shown


def test_an_error_finding_exits_1_and_writes_nothing(tmp_path):
    text = EXAMPLE.read_text().replace(
        'address = "192.168.77.12"\n',
        'address = "192.168.77.12"\nlinks = ["192.168.77.12", "192.168.77.22"]\n',
    )
    text = text.replace(
        'address = "192.168.77.11"\n',
        'address = "192.168.77.11"\nlinks = ["192.168.77.11", "192.168.77.21"]\n',
    ).replace(
        'address = "192.168.77.13"\n',
        'address = "192.168.77.13"\nlinks = ["192.168.77.13", "192.168.77.23"]\n',
    )
    path = tmp_path / "same-network.toml"
    path.write_text(text)
    out = tmp_path / "corosync.conf"
    result = CliRunner().invoke(cli.main, ["corosync", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert "HK703 error ctl1" in result.stderr
    assert not out.exists()
