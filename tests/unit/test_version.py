"""One version number, read from ha_common by setup.cfg and every -V/--version."""

from __future__ import annotations

import configparser
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import ha_common
from cib_builder import cli

ROOT = Path(__file__).resolve().parents[2]


def test_setup_cfg_reads_the_version_from_ha_common():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["metadata"]["version"] == "attr: ha_common.__version__"


def test_setuptools_resolves_it_to_ha_commons_version():
    setupcfg = pytest.importorskip("setuptools.config.setupcfg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # setup.cfg itself is deprecated upstream
        metadata = setupcfg.read_configuration(str(ROOT / "setup.cfg"))["metadata"]
    assert metadata["version"] == ha_common.__version__


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_hakit_cib_prints_the_version(flag):
    result = CliRunner().invoke(cli.main, [flag])
    assert result.exit_code == 0
    assert result.output == f"hakit-cib {ha_common.__version__}\n"
