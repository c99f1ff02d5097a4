"""corosync.conf from the topology: model, checks, file, round trip (no tools)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from cib_builder import checks, corosync, topology

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "opnfv-3-controllers.toml"


def node(i: int, links: str = "") -> str:
    return f"""
[[nodes]]
name = "ctl{i}"
address = "192.168.77.1{i}"
{links}
[nodes.bmc]
type = "ipmi"
address = "10.20.0.1{i}"
username = "admin"
password_file = "/etc/hakit/bmc/ctl{i}"
"""


def text(count: int = 3, *, corosync_table: str = "", two_links: bool = False) -> str:
    head = '[cluster]\nname = "lab"\n'
    if count == 2:  # noqa: PLR2004
        head += "allow_two_node = true\nfencing_delay = 5\n"
    body = "".join(
        node(i, f'links = ["192.168.77.1{i}", "192.168.88.1{i}"]' if two_links else "")
        for i in range(1, count + 1)
    )
    return head + body + corosync_table


def build(source: str) -> corosync.Corosync:
    return corosync.build(topology.parse(source))


def codes(model: corosync.Corosync) -> list[str]:
    return sorted(p.code for p in corosync.check(model))


TWO_NETWORKS = '\n[corosync]\nnetworks = ["192.168.77.0/24", "192.168.88.0/24"]\n'
NO_CRYPTO = '\n[corosync]\ncrypto_cipher = "none"\ncrypto_hash = "none"\n'


def test_the_documented_codes_are_the_reported_ones():
    documented = set(re.findall(r"HK\d{3}", corosync.__doc__ or ""))
    reported = set(re.findall(r'"(HK7\d\d)"', inspect.getsource(corosync)))
    assert documented == reported == {f"HK70{n}" for n in range(1, 6)}


def test_the_example_gives_a_fast_encrypted_three_node_cluster():
    model = corosync.build(topology.load(EXAMPLE))
    assert model.cluster_name == "opnfv"
    assert [(n.name, n.nodeid, n.addresses) for n in model.nodes] == [
        ("ctl1", 1, ("192.168.77.11",)),
        ("ctl2", 2, ("192.168.77.12",)),
        ("ctl3", 3, ("192.168.77.13",)),
    ]
    assert (model.token, model.effective_token, model.consensus) == (1000, 1650, 1980)
    assert (model.crypto_cipher, model.crypto_hash) == ("aes256", "sha256")
    assert model.keyfile == "/etc/corosync/authkey"
    assert model.quorum == 2
    assert model.wait_for_all and not model.two_node and not model.last_man_standing
    assert corosync.check(model) == []


@pytest.mark.parametrize(
    ("table", "token"),
    [
        ("", 1000),
        ('\n[corosync]\nfailover = "standard"\n', 3000),
        ('\n[corosync]\nfailover = "tolerant"\n', 10000),
        ('\n[corosync]\nfailover = "tolerant"\ntoken = 2000\n', 2000),
    ],
)
def test_failover_profiles_and_an_explicit_token(table, token):
    model = build(text(corosync_table=table))
    assert model.token == token
    assert model.consensus == int((token + 650) * 1.2)


def test_two_nodes_use_votequorums_two_node_mode():
    model = build(text(2))
    assert model.two_node and model.quorum == 1
    assert "two_node: 1" in corosync.render(model)


def test_the_cib_and_corosync_agree_on_names_and_ids():
    from cib_builder import recipes

    topo = topology.load(EXAMPLE)
    cib = recipes.build(topo)
    model = corosync.build(topo)
    assert [(n.name, n.nodeid) for n in cib.nodes] == [
        (n.name, n.nodeid) for n in model.nodes
    ]


@pytest.mark.parametrize(
    "source",
    [
        text(),
        text(two_links=True, corosync_table=TWO_NETWORKS),
        text(2),
        text(corosync_table=NO_CRYPTO + "last_man_standing = true\n"),
        text(corosync_table="\n[corosync]\ntoken_coefficient = 0\n"),
        text(4, corosync_table="\n[corosync]\ntoken_coefficient = 300\n"),
    ],
    ids=[
        "one link",
        "two links",
        "two nodes",
        "no crypto, last man standing",
        "token coefficient 0",
        "token coefficient 300, four nodes",
    ],
)
def test_the_file_reads_back_to_the_same_model_and_renders_the_same(source):
    model = build(source)
    rendered = corosync.render(model)
    assert corosync.parse(rendered) == model
    assert corosync.render(corosync.parse(rendered)) == rendered
    assert corosync.render(build(source)) == rendered


def test_two_links_are_passive_with_link_0_preferred():
    rendered = corosync.render(build(text(two_links=True, corosync_table=TWO_NETWORKS)))
    assert "link_mode: passive" in rendered
    assert "ring1_addr: 192.168.88.12" in rendered
    priorities = re.findall(r"linknumber: (\d)\s+knet_link_priority: (\d)", rendered)
    assert priorities == [("0", "2"), ("1", "1")]


def test_without_crypto_there_is_no_keyfile_line():
    source = text(
        corosync_table='\n[corosync]\ncrypto_cipher = "none"\ncrypto_hash = "none"\n'
    )
    assert "keyfile" not in corosync.render(build(source))


def test_hk701_an_even_count_without_a_tie_breaker():
    source = text(4).replace('name = "lab"', 'name = "lab"')
    model = build(source)
    assert codes(model) == ["HK701"]
    assert all(p.severity == checks.WARNING for p in corosync.check(model))


def test_hk702_link_counts_that_differ():
    model = build(text(two_links=True))
    nodes = (dataclasses.replace(model.nodes[0], addresses=("192.168.77.11",)),
             *model.nodes[1:])  # fmt: skip
    assert "HK702" in codes(dataclasses.replace(model, nodes=nodes))


def test_hk703_two_links_on_one_network_are_not_redundant():
    same = text().replace(
        'address = "192.168.77.11"\n',
        'address = "192.168.77.11"\nlinks = ["192.168.77.11", "192.168.77.21"]\n',
    )
    assert "HK703" in codes(build(same))
    overlapping = text(
        two_links=True,
        corosync_table=TWO_NETWORKS.replace("192.168.88.0/24", "192.168.0.0/16"),
    )
    assert "HK703" in codes(build(overlapping))


def test_hk704_an_address_off_its_network_or_twice():
    wrong = text(two_links=True, corosync_table=TWO_NETWORKS).replace(
        '"192.168.88.12"', '"192.168.99.12"'
    )
    problems = corosync.check(build(wrong))
    assert [(p.code, p.subject) for p in problems] == [("HK704", "ctl2")]
    twice = text(two_links=True).replace('"192.168.88.12"', '"192.168.88.11"')
    assert "HK704" in codes(build(twice))


@pytest.mark.parametrize(
    ("count", "table", "warned"),
    [
        (3, "token = 200\ntoken_coefficient = 0", True),
        (3, "token = 200\ntoken_coefficient = 299", True),
        (3, "token = 200\ntoken_coefficient = 300", False),
        (3, "token = 200", False),  # 850 ms with corosync's 650
        (2, "token = 200", True),  # two nodes: no coefficient
    ],
)
def test_hk705_an_effective_token_too_short_for_a_busy_network(count, table, warned):
    model = build(text(count, corosync_table=f"\n[corosync]\n{table}\n"))
    assert ("HK705" in codes(model)) is warned


ADDRESS = 'address = "192.168.77.12"\n'


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({ADDRESS: ADDRESS + 'links = ["192.168.88.12"]\n'}, "nodes[1].links[0]"),
        ({ADDRESS: ADDRESS + 'links = ["x"]\n'}, "nodes[1].links[0]"),
        ({ADDRESS: ADDRESS + "links = []\n"}, "nodes[1].links"),
    ],
)  # fmt: skip
def test_topology_refuses_bad_links(change, path):
    source = text()
    for old, new in change.items():
        source = source.replace(old, new)
    with pytest.raises(topology.TopologyError) as info:
        topology.parse(source)
    assert path in [p.path for p in info.value.problems]


@pytest.mark.parametrize(
    ("table", "path"),
    [
        ('failover = "quick"', "corosync.failover"),
        ("token = 50", "corosync.token"),
        ('networks = ["192.168.77.1/24"]', "corosync.networks[0]"),
        ('crypto_hash = "none"', "corosync.crypto_hash"),
        ('networks = ["192.168.77.0/24", "192.168.88.0/24"]', "nodes[0].links"),
        ('keyfile = "authkey"', "corosync.keyfile"),
        ("tokn = 1000", "corosync.tokn"),
        ("token_coefficient = -1", "corosync.token_coefficient"),
        ("token_coefficient = 10001", "corosync.token_coefficient"),
        ('token_coefficient = "0"', "corosync.token_coefficient"),
    ],
)
def test_topology_refuses_a_bad_corosync_table(table, path):
    with pytest.raises(topology.TopologyError) as info:
        topology.parse(text() + f"\n[corosync]\n{table}\n")
    assert path in [p.path for p in info.value.problems]


@pytest.mark.parametrize(
    "broken",
    [
        "totem {\n    version: 2\n",
        "}\n",
        "totem {\n    token = 1\n}\n",
        "nodelist {\n}\n",
    ],
)
def test_parse_refuses_what_it_cannot_read(broken):
    with pytest.raises(corosync.ParseError):
        corosync.parse(broken)


def test_wait_for_all_can_be_turned_off_but_not_with_two_nodes():
    table = "\n[corosync]\nwait_for_all = false\n"
    assert "wait_for_all: 0" in corosync.render(build(text(corosync_table=table)))
    two = text(2, corosync_table=table)
    assert build(two).wait_for_all  # corosync's two_node mode needs it


def test_knet_notices_a_dead_link_well_before_the_token_expires():
    model = corosync.build(topology.load(EXAMPLE))
    assert (model.knet_ping_interval, model.knet_ping_timeout) == (206, 412)
    assert (
        model.knet_ping_interval + model.knet_ping_timeout < model.effective_token / 2
    )
    rendered = corosync.render(model)
    assert (
        "knet_ping_interval: 206" in rendered and "knet_ping_timeout: 412" in rendered
    )


def test_the_token_coefficient_is_corosyncs_650_unless_the_topology_sets_it():
    assert topology.parse(text()).corosync.token_coefficient is None
    model = build(text())
    assert (model.token_coefficient, model.effective_token) == (650, 1650)
    assert "    token_coefficient: 650\n" in corosync.render(model)


@pytest.mark.parametrize(
    ("count", "coefficient", "effective", "consensus"),
    [
        (3, 0, 1000, 1200),
        (5, 0, 1000, 1200),
        (3, 300, 1300, 1560),
        (5, 300, 1900, 2280),
        (2, 300, 1000, 1200),
    ],
)
def test_the_token_coefficient_sets_the_effective_token_and_consensus(
    count, coefficient, effective, consensus
):
    table = f"\n[corosync]\ntoken_coefficient = {coefficient}\n"
    model = build(text(count, corosync_table=table))
    assert model.token_coefficient == coefficient
    assert (model.effective_token, model.consensus) == (effective, consensus)
    rendered = corosync.render(model)
    assert f"    token_coefficient: {coefficient}\n" in rendered
    assert f"    consensus: {consensus}\n" in rendered
    assert (model.knet_ping_interval, model.knet_ping_timeout) == (
        effective // 8,
        effective // 4,
    )


def test_a_bad_token_coefficient_is_one_line_naming_the_key():
    with pytest.raises(topology.TopologyError) as info:
        topology.parse(text() + "\n[corosync]\ntoken_coefficient = 10001\n")
    assert [p.path for p in info.value.problems] == ["corosync.token_coefficient"]
    assert str(info.value).startswith("<string>: corosync.token_coefficient: ")
    assert "\n" not in str(info.value)


def test_the_live_lab_runs_its_topologys_coefficient_unless_overridden(tmp_path):
    from tests.lab.controllers import LAB_CLUSTER, ControllerCluster

    # Describing the lab creates nothing: no namespace, no file.
    model = ControllerCluster(tmp_path / "lab").model
    assert model == corosync.build(topology.load(LAB_CLUSTER))
    assert (model.token, model.token_coefficient, model.consensus) == (1000, 0, 1200)
    override = ControllerCluster(tmp_path / "tc", token_coefficient=650).model
    assert override is not None
    assert (override.effective_token, override.consensus) == (1650, 1980)
    assert (override.knet_ping_interval, override.knet_ping_timeout) == (206, 412)
    assert corosync.parse(corosync.render(override)) == override
    assert list(tmp_path.iterdir()) == []
