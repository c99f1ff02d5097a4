"""Every fence agent's metadata: golden file, fence-agents' metadata.rng, structure.

pacemaker-fenced and pcs read this document to learn the parameters and the
actions; it is generated from the declaration, so the golden file is the
reviewed record of what a change to the declaration changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fence_agents import registry
from fence_agents._runtime import metadata, options
from tests.contract.golden import FENCE_GOLDEN, ROOT

#: The schema fence-agents ships (Debian package fence-agents); its own test
#: suite validates every agent's metadata against it.
FENCE_RNG = Path("/usr/share/cluster/relaxng/metadata.rng")
NAMES = registry.names()


def rendered(name: str) -> str:
    return metadata.of_agent(registry.agent(name))


@pytest.fixture(scope="module")
def rng():
    if not FENCE_RNG.exists():
        message = f"{FENCE_RNG} is missing (Debian package fence-agents)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    etree = pytest.importorskip("lxml.etree")
    return etree.RelaxNG(etree.parse(str(FENCE_RNG)))


@pytest.mark.parametrize("name", NAMES)
def test_matches_golden_file(name):
    golden = FENCE_GOLDEN / f"{name}.xml"
    assert golden.exists(), "run `make golden` and review the new file"
    assert rendered(name) == golden.read_text()


@pytest.mark.parametrize("name", NAMES)
def test_valid_against_fence_agents_metadata_rng(name, rng):
    from lxml import etree

    doc = etree.fromstring(rendered(name).encode())
    assert rng.validate(doc), rng.error_log.filter_from_errors()


@pytest.mark.parametrize("name", NAMES)
def test_structure_follows_the_declaration(name):
    agent = registry.agent(name)
    text = rendered(name)
    assert text.startswith('<?xml version="1.0" ?>\n')
    root = ET.fromstring(text)
    assert (root.tag, root.get("name")) == ("resource-agent", name)
    assert root.get("shortdesc") == agent.shortdesc
    assert root.findtext("longdesc") == agent.longdesc
    params = root.findall("parameters/parameter")
    expected = [n for opt in agent.options for n in (opt.name, *opt.aliases)]
    assert [p.get("name") for p in params] == expected
    by_name = {p.get("name"): p for p in params}
    for opt in agent.options:
        assert by_name[opt.name].get("required") == ("1" if opt.required else "0")
        for alias in opt.aliases:
            assert by_name[alias].get("required") == "0"
            assert by_name[alias].get("deprecated") == "1"
        content = by_name[opt.name].find("content")
        assert content.get("default") == opt.default
    actions = [a.get("name") for a in root.findall("actions/action")]
    assert actions == list(agent.actions) == list(options.ACTIONS)
    assert by_name["action"].find("content").get("default") is None
    # -h and -V are command-line switches, never parameters a CIB could set.
    assert not {"help", "version"} & set(by_name)


@pytest.mark.parametrize("name", NAMES)
def test_metadata_action_prints_the_golden_document(name):
    done = subprocess.run(
        [
            sys.executable,
            "-s",
            "-c",
            f"from {registry.module(name)} import main; main()",
        ]
        + ["-o", "metadata"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (FENCE_GOLDEN / f"{name}.xml").read_text()


def test_golden_directory_has_no_stale_files():
    assert sorted(p.stem for p in FENCE_GOLDEN.glob("*.xml")) == sorted(NAMES)
