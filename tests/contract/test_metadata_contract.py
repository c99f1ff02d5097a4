"""Every agent's meta-data: golden file, ra-api-1.dtd, OCF 1.1 metadata.rng."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from ocf_agents._runtime import metadata, registry
from tests.contract.conftest import run_agent
from tests.contract.golden import GOLDEN
from tests.unavailable import unavailable

RA_DIR = Path("/usr/share/resource-agents")
NAMES = registry.names()


def _schema_file(name: str) -> Path:
    path = RA_DIR / name
    if not path.exists():
        unavailable(f"{path} is missing (Debian package resource-agents)")
    return path


@pytest.fixture(scope="module")
def dtd():
    return etree.DTD(str(_schema_file("ra-api-1.dtd")))


@pytest.fixture(scope="module")
def rng():
    return etree.RelaxNG(etree.parse(str(_schema_file("metadata.rng"))))


@pytest.mark.parametrize("name", NAMES)
def test_matches_golden_file(name):
    golden = GOLDEN / f"{name}.xml"
    assert golden.exists(), "run `make golden` and review the new file"
    assert metadata.render(registry.spec(name)) == golden.read_text()


@pytest.mark.parametrize("name", NAMES)
def test_valid_against_dtd_and_relaxng(name, dtd, rng):
    text = metadata.render(registry.spec(name))
    assert metadata.DOCTYPE in text.splitlines()[1]
    doc = etree.fromstring(text.encode())
    assert dtd.validate(doc), dtd.error_log.filter_from_errors()
    assert rng.validate(doc), rng.error_log.filter_from_errors()


@pytest.mark.parametrize("name", NAMES)
def test_meta_data_action_prints_the_document(name):
    result = run_agent(name, "meta-data", {"port": "not-a-port"})
    assert result.rc == 0
    assert result.out == metadata.render(registry.spec(name))


def test_golden_directory_has_no_stale_files():
    assert sorted(p.stem for p in GOLDEN.glob("*.xml")) == sorted(NAMES)


def _title(element, agent: str) -> str:
    """What ``crm ra info`` shows as the title of ``element`` (crmsh 4.4's rule).

    crmsh drops a shortdesc that is empty or equal to the element's name, its
    longdesc or the agent's type.
    """
    shortdesc = (element.findtext("shortdesc") or "").strip()
    longdesc = (element.findtext("longdesc") or "").strip()
    if shortdesc in ("", element.get("name"), longdesc, agent):
        return ""
    return shortdesc


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_a_title_in_crm_ra_info(name):
    doc = etree.fromstring(metadata.render(registry.spec(name)).encode())
    assert _title(doc, name), "the agent itself"
    blank = [p.get("name") for p in doc.iter("parameter") if not _title(p, name)]
    assert blank == []
