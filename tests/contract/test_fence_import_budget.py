"""Fence agents' meta-data imports neither a BMC client nor slow stdlib modules.

pacemaker-fenced asks every fence agent for its metadata; the status paths,
which do import a client, are checked against real BMCs in
tests/integration/test_fence_ipmi.py and test_fence_redfish.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.lab.probe import run_probed, top_level

ROOT = Path(__file__).resolve().parents[2]

#: The modules the fence launchers run (packaging/install.py).
AGENTS = ("fence_agents.ipmi", "fence_agents.redfish")
CLIENTS = ("pyghmi", "redfish", "requests", "urllib3", "cryptography")
SLOW_STDLIB = ("dataclasses", "inspect", "subprocess", "typing")

PROBE = """
sys.path.insert(0, os.environ["HAKIT_ROOT"])
sys.argv = [sys.argv[0], "-o", "metadata"]
from {module} import main
main()
"""


@pytest.mark.parametrize("module", AGENTS)
def test_metadata_imports_no_client_and_no_slow_stdlib(tmp_path, module):
    done, loaded = run_probed(
        [sys.executable, "-s"],
        PROBE.format(module=module),
        tmp_path / "modules.txt",
        env={"PATH": "/usr/bin:/bin", "HAKIT_ROOT": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "<resource-agent" in done.stdout
    assert not top_level(loaded) & set(CLIENTS)
    assert not loaded & set(SLOW_STDLIB)
