"""Actions of ``ocf:hakit:galera``.

Roles: *unpromoted* means mariadbd is stopped and the node's position is
published; *promoted* means mariadbd runs, Synced, in the Primary Component.
The rules (positions, election) live in ``state``; this module runs
mariadbd, talks to the cluster tools and turns findings into OCF codes.
"""

from __future__ import annotations

import os
import time

from ha_common import lazylog
from ha_common.command import CommandError, CommandTimeoutError, run_cmd
from ocf_agents._runtime import cluster, host, proc, statefile
from ocf_agents._runtime.context import ActionContext
from ocf_agents._runtime.env import Config
from ocf_agents._runtime.errors import (
    ActionTimeoutError,
    AgentError,
    HostSetupError,
    NotInstalledError,
)
from ocf_agents._runtime.rc import OcfRc
from ocf_agents.galera import client, state
from ocf_agents.galera.spec import ATTR_FORCE, ATTR_POSITION, ATTR_PRIMARY, ATTR_WAITING
from ocf_agents.galera.state import EMPTY, Decision, Position, Report

log = lazylog.get(__name__)

#: Promotion score of a node allowed to be promoted.
PROMOTE_SCORE = 100
#: Seconds of a promote kept back to stop mariadbd when the join fails.
STOP_RESERVE = 20.0
#: Seconds between progress lines while a state transfer runs.
PROGRESS_EVERY = 10.0
#: Seconds between checks that the Primary Component being joined still runs.
PEER_CHECK_EVERY = 5.0
#: Galera's default group communication port (gmcast.listen_addr).
GROUP_PORT = 4567
#: Seconds a connection to a peer's group port may take to be accepted.
PEER_CONNECT_TIMEOUT = 2.0
#: A member that answers but stays outside any Primary Component this long
#: has nothing to join (a state transfer happens inside the component).
NO_PRIMARY_GIVE_UP = 20.0
POLL = 0.25
INSTALL_DB = "mariadb-install-db"


class FailedPromotedError(AgentError):
    """mariadbd runs but is not a healthy member (OCF_FAILED_PROMOTED)."""

    rc = OcfRc.FAILED_PROMOTED


# --- parameters and local files ------------------------------------------------


def _statefile(ctx: ActionContext) -> str:
    """Exists while the instance is started; holds the last known report."""
    return statefile.path(ctx, "galera")


def _attr(ctx: ActionContext, what: str) -> str:
    return f"{ctx.resource}-{what}"


def _identity(cfg: Config) -> proc.Identity:
    return proc.Identity(
        cfg.get_str("binary"), (f"--defaults-file={cfg.get_str('config')}",)
    )


def _me(ctx: ActionContext) -> str:
    return cluster.this_node(ctx.meta, ctx.deadline)


def _expected(cfg: Config) -> list[str]:
    hosts = state.parse_cluster_address(cfg.get_str("wsrep_cluster_address"))
    mapping = cfg["cluster_host_map"]
    return state.expected_nodes(hosts, mapping if isinstance(mapping, dict) else {})


def _save_report(ctx: ActionContext, report: Report) -> None:
    statefile.write(_statefile(ctx), report.encode() + "\n")


def _saved_report(ctx: ActionContext) -> Report | None:
    text = statefile.read(_statefile(ctx))
    if text is None:
        return None
    try:
        return Report.decode(text.strip())
    except ValueError:
        log.warning("ignoring a malformed state file %s", _statefile(ctx))
        return None


def _has_database(datadir: str) -> bool:
    return os.path.isdir(os.path.join(datadir, "mysql"))


def _datadir_locked(datadir: str) -> bool:
    """Tell whether some process holds InnoDB's lock on the data directory."""
    import fcntl  # noqa: PLC0415

    path = os.path.join(datadir, "ibdata1")
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


# --- validate -----------------------------------------------------------------------


def validate(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Check the host: program, configuration, data directory, user, credentials."""
    host.require_program(cfg.get_str("binary"), "binary")
    client.require(cfg)
    host.require_file(cfg.get_str("config"), "configuration file")
    host.require_directory(cfg.get_str("datadir"), "datadir")
    host.require_user(cfg.get_str("user"))
    if cfg.get_str("check_defaults_file"):
        host.require_private_file(
            cfg.get_str("check_defaults_file"), "check_defaults_file"
        )
        client.check_option_file(cfg, ctx.deadline)
    if not _expected(cfg):
        raise HostSetupError(
            "no Pacemaker node matches a host of wsrep_cluster_address; "
            "set cluster_host_map"
        )
    return OcfRc.SUCCESS


# --- mariadbd ------------------------------------------------------------------------


def _running(cfg: Config, ctx: ActionContext) -> int | None:
    """Return mariadbd's pid; raise if a mariadbd we did not start holds datadir."""
    pid = proc.find(statefile.pidfile(cfg, ctx), _identity(cfg))
    if (
        pid is None
        and cfg.get_str("datadir")
        and _datadir_locked(cfg.get_str("datadir"))
    ):
        raise AgentError(
            f"a process outside this agent's control holds "
            f"{cfg.get_str('datadir')}; stop it"
        )
    return pid


def _log_hint(cfg: Config) -> str:
    path = cfg.get_str("log")
    if not path:
        return "see the MariaDB error log"
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - 16384))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return f"see {path}"
    starts = [i for i, line in enumerate(lines) if "Starting MariaDB" in line]
    lines = lines[starts[-1] :] if starts else lines
    errors = [
        line.split("[ERROR]", 1)[1].strip() for line in lines if "[ERROR]" in line
    ]
    # The first WSREP error is the cause; "Aborting" and the like follow any.
    telling = [e for e in errors if "WSREP" in e] or errors
    return f"error log: {telling[0]}" if telling else f"see {path}"


# --- positions -----------------------------------------------------------------------


def _recover(cfg: Config, ctx: ActionContext) -> Report:
    """The node's last committed position, with mariadbd stopped."""
    datadir = cfg.get_str("datadir")
    try:
        grastate = state.read_grastate(datadir)
    except (OSError, ValueError) as exc:
        raise AgentError(f"cannot read grastate.dat: {exc}") from None
    if grastate is not None and grastate.position.known:
        log.info("position from grastate.dat: %s", grastate.position)
        return Report(grastate.position, grastate.safe_to_bootstrap)
    if grastate is None and not _has_database(datadir):
        return Report(EMPTY, False)
    safe = grastate.safe_to_bootstrap if grastate else False
    position = _wsrep_recover(cfg, ctx)
    log.info("position from --wsrep-recover: %s", position)
    return Report(position, safe)


def _wsrep_recover(cfg: Config, ctx: ActionContext) -> Position:
    user = cfg.get_str("user")
    log_path = statefile.path(ctx, "recover.log")
    proc.remove_file(log_path)
    with open(log_path, "w", encoding="utf-8"):
        pass
    uid, gid, _ = host.user_ids(user)
    os.chown(log_path, uid, gid)
    argv = [
        cfg.get_str("binary"),
        f"--defaults-file={cfg.get_str('config')}",
        f"--datadir={cfg.get_str('datadir')}",
        f"--user={user}",
        "--wsrep-recover",
        f"--log-error={log_path}",
    ]
    try:
        run_cmd(argv, ctx.deadline)
    except CommandTimeoutError as exc:
        raise ActionTimeoutError(f"mariadbd --wsrep-recover: {exc}") from None
    except CommandError as exc:
        raise NotInstalledError(str(exc)) from None
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as exc:
        raise AgentError(f"cannot read {log_path}: {exc.strerror}") from None
    position = state.recovered_position(text)
    if position is None:
        last = [line for line in text.splitlines() if "[ERROR]" in line]
        detail = last[-1].split("[ERROR]", 1)[1].strip() if last else f"see {log_path}"
        raise AgentError(f"mariadbd --wsrep-recover found no position: {detail}")
    return position


def _final_position(cfg: Config, ctx: ActionContext) -> Report | None:
    """The position grastate.dat holds after a stop (None when unknown)."""
    try:
        grastate = state.read_grastate(cfg.get_str("datadir"))
    except (OSError, ValueError):
        return None
    if grastate is None or not grastate.position.known:
        return None
    return Report(grastate.position, grastate.safe_to_bootstrap)


# --- the election as seen from this node ----------------------------------------


def _forced(cfg: Config, ctx: ActionContext) -> tuple[str | None, str]:
    """The node an operator allowed to bootstrap, and a note when ignored."""
    values = cluster.query_all(_attr(ctx, ATTR_FORCE), ctx.deadline)
    now = time.time()
    limit = cfg.get_int("force_bootstrap_max")
    valid, notes = [], []
    for node, text in sorted(values.items()):
        expiry = _expiry(text)
        if expiry is None:
            notes.append(f"force-bootstrap on {node} has no valid expiry ({text!r})")
        elif expiry <= now:
            notes.append(f"force-bootstrap on {node} expired")
        elif expiry > now + limit:
            notes.append(f"force-bootstrap on {node} expires more than {limit} s ahead")
        else:
            valid.append(node)
    if len(valid) > 1:
        return None, f"force-bootstrap is set on several nodes ({', '.join(valid)})"
    return (valid[0] if valid else None), "; ".join(notes)


def _expiry(text: str) -> float | None:
    text = text.strip()
    if text.isdigit():
        return float(text)
    from datetime import datetime, timezone  # noqa: PLC0415

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _reports(ctx: ActionContext) -> dict[str, Report]:
    reports = {}
    for node, text in cluster.query_all(
        _attr(ctx, ATTR_POSITION), ctx.deadline
    ).items():
        try:
            reports[node] = Report.decode(text)
        except ValueError:
            log.warning("ignoring %s's malformed position %r", node, text)
    return reports


def _decide(cfg: Config, ctx: ActionContext) -> tuple[Decision, str]:
    forced, note = _forced(cfg, ctx)
    decision = state.elect(_expected(cfg), _reports(ctx), forced)
    if note and decision.winner is None:
        decision = Decision(None, f"{decision.reason}; {note}")
    return decision, note


def _set_waiting(ctx: ActionContext, text: str) -> None:
    cluster.set_attr(_attr(ctx, ATTR_WAITING), text[:200], deadline=ctx.deadline)


def _refresh(cfg: Config, ctx: ActionContext, me: str) -> None:
    """Unpromoted: say who may be promoted now, and what this node waits for."""
    peers = _primary_peers(cfg, ctx, me)
    if peers:
        report = _saved_report(ctx)
        refusal = _join_refusal(report, peers)
        if refusal:
            cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)
            _set_waiting(ctx, refusal)
            log.error("%s", refusal)
            return
        cluster.set_promotion(ctx.resource, PROMOTE_SCORE, deadline=ctx.deadline)
        _set_waiting(ctx, f"joining the Primary Component on {', '.join(peers)}")
        return
    decision, _ = _decide(cfg, ctx)
    if decision.winner is None:
        cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)
        _set_waiting(ctx, decision.reason)
        log.info("no bootstrap yet: %s", decision.reason)
        return
    cluster.set_promotion(
        ctx.resource, PROMOTE_SCORE, node=decision.winner, deadline=ctx.deadline
    )
    if decision.winner == me:
        _set_waiting(ctx, f"bootstrapping: {decision.reason}")
    else:
        cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)
        _set_waiting(
            ctx, f"waiting for {decision.winner} to bootstrap ({decision.reason})"
        )


def _primary_peers(cfg: Config, ctx: ActionContext, me: str) -> dict[str, str]:
    """Other nodes serving a Primary Component, with its cluster uuid.

    An announcement outlives a mariadbd killed a moment ago (its node is
    demoted only later), so a peer counts only while its group port accepts
    connections.
    """
    found = cluster.query_all(_attr(ctx, ATTR_PRIMARY), ctx.deadline)
    endpoints = _group_endpoints(cfg)
    peers = {}
    for node, uuid in sorted(found.items()):
        if node == me:
            continue
        endpoint = endpoints.get(node)
        if endpoint is not None and not _accepts(endpoint, ctx):
            log.info(
                "%s announces a Primary Component but %s:%d refuses", node, *endpoint
            )
            continue
        peers[node] = uuid
    return peers


def _group_endpoints(cfg: Config) -> dict[str, tuple[str, int]]:
    """Pacemaker node -> (host, group communication port) of its member."""
    hosts = state.parse_cluster_address(cfg.get_str("wsrep_cluster_address"))
    mapping = cfg["cluster_host_map"]
    by_node = dict(mapping) if isinstance(mapping, dict) else {}
    endpoints = {}
    for entry in hosts:
        host, port = state.split_host_port(entry, GROUP_PORT)
        nodes = [n for n, h in by_node.items() if h in (entry, host)] or [host]
        for node in nodes:
            endpoints[node] = (host, port)
    return endpoints


def _accepts(endpoint: tuple[str, int], ctx: ActionContext) -> bool:
    import socket  # noqa: PLC0415

    timeout = max(0.2, min(PEER_CONNECT_TIMEOUT, ctx.deadline.remaining()))
    try:
        with socket.create_connection(endpoint, timeout=timeout):
            return True
    except OSError:
        return False


def _join_refusal(report: Report | None, peers: dict[str, str]) -> str:
    """Why joining ``peers`` would lose this node's data ("" when it would not)."""
    if report is None or report.position.empty:
        return ""
    foreign = {uuid for uuid in peers.values() if uuid != report.position.uuid}
    if not foreign:
        return ""
    return (
        f"will not join: this node holds cluster {report.position.uuid} but the "
        f"Primary Component on {', '.join(peers)} runs {', '.join(sorted(foreign))}; "
        "a state transfer would wipe this node's data"
    )


def _publish(ctx: ActionContext, report: Report) -> None:
    _save_report(ctx, report)
    cluster.set_attr(_attr(ctx, ATTR_POSITION), report.encode(), deadline=ctx.deadline)


def _unpublish(ctx: ActionContext) -> None:
    for what in (ATTR_POSITION, ATTR_WAITING, ATTR_PRIMARY):
        cluster.delete_attr(_attr(ctx, what), deadline=ctx.deadline)
    cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)


# --- actions ----------------------------------------------------------------------


def start(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Start unpromoted: recover and publish the position; mariadbd stays down."""
    validate(cfg, ctx)
    pid = _running(cfg, ctx)
    if pid is not None:
        raise AgentError(
            f"mariadbd already runs as pid {pid}; "
            "it must be stopped to start unpromoted"
        )
    if not _has_database(cfg.get_str("datadir")):
        if not cfg.get_bool("enable_creation"):
            raise HostSetupError(
                f"{cfg.get_str('datadir')} holds no database; "
                "set enable_creation=true to create one"
            )
        _create(cfg, ctx)
    report = _recover(cfg, ctx)
    _publish(ctx, report)
    me = _me(ctx)
    log.info("started unpromoted on %s at %s", me, report.encode())
    _refresh(cfg, ctx, me)
    return OcfRc.SUCCESS


def _create(cfg: Config, ctx: ActionContext) -> None:
    import shutil  # noqa: PLC0415

    installer = shutil.which(
        INSTALL_DB, path=os.path.dirname(cfg.get_str("binary")) + ":/usr/bin:/usr/sbin"
    )
    if installer is None:
        raise NotInstalledError(f"{INSTALL_DB} is not installed")
    argv = [
        installer,
        f"--defaults-file={cfg.get_str('config')}",
        f"--datadir={cfg.get_str('datadir')}",
        f"--user={cfg.get_str('user')}",
        "--skip-test-db",
        "--auth-root-authentication-method=socket",
    ]
    log.info("creating the database in %s", cfg.get_str("datadir"))
    try:
        done = run_cmd(argv, ctx.deadline)
    except CommandTimeoutError as exc:
        raise ActionTimeoutError(str(exc)) from None
    except CommandError as exc:
        raise NotInstalledError(str(exc)) from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise AgentError(
            f"{INSTALL_DB} failed: {lines[-1] if lines else done.returncode}"
        )


def monitor(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Promoted when mariadbd runs healthy; started unpromoted when it is down.

    A live mariadbd is never "not running": unhealthy means failed promoted.
    """
    pid = _running(cfg, ctx)
    if pid is not None:
        try:
            problem = client.problem(cfg, client.status(cfg, ctx.deadline))
        except NotInstalledError as exc:
            if not ctx.is_probe:
                raise
            # A probe's rc 5 would read "not running" (see runner): a live
            # mariadbd that cannot be checked is a failed one.
            problem = f"cannot be checked: {exc}"
        except AgentError as exc:
            problem = str(exc)
        if problem:
            raise FailedPromotedError(f"mariadbd (pid {pid}) runs but is {problem}")
        return OcfRc.RUNNING_PROMOTED
    if _saved_report(ctx) is None:
        return OcfRc.NOT_RUNNING
    if ctx.meta.get("role") in ("Promoted", "Master"):
        raise FailedPromotedError(f"mariadbd is not running ({_log_hint(cfg)})")
    if not ctx.is_probe:
        _refresh(cfg, ctx, _me(ctx))
    return OcfRc.SUCCESS


def promote(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Join the running Primary Component, or bootstrap it if this node may."""
    client.require(cfg)
    pid = _running(cfg, ctx)
    if pid is not None:
        problem = client.problem(cfg, client.status(cfg, ctx.deadline))
        if not problem:
            return OcfRc.SUCCESS
        raise AgentError(f"mariadbd (pid {pid}) already runs but is {problem}")
    report = _saved_report(ctx) or _recover(cfg, ctx)
    me = _me(ctx)
    peers = _primary_peers(cfg, ctx, me)
    forced = False
    if peers:
        refusal = _join_refusal(report, peers)
        if refusal:
            _set_waiting(ctx, refusal)
            raise AgentError(refusal)
        log.info(
            "joining the Primary Component on %s from %s",
            ", ".join(peers),
            report.position,
        )
        bootstrap = False
    else:
        decision, _ = _decide(cfg, ctx)
        if decision.winner != me:
            why = (
                decision.reason
                if decision.winner is None
                else f"{decision.reason}, not {me}"
            )
            _set_waiting(ctx, why)
            raise AgentError(f"will not bootstrap on {me}: {why}")
        log.warning("bootstrapping a new Primary Component: %s", decision.reason)
        bootstrap, forced = True, decision.forced
        _prepare_bootstrap(cfg)
    _set_waiting(ctx, "bootstrapping" if bootstrap else f"joining {', '.join(peers)}")
    pid = _start_mariadbd(cfg, ctx, report.position, bootstrap)
    status = _wait_synced(cfg, ctx, pid, joining=not bootstrap)
    if forced:
        cluster.delete_attr(_attr(ctx, ATTR_FORCE), node=me, deadline=ctx.deadline)
    uuid = status.get("wsrep_cluster_state_uuid", "?")
    cluster.set_attr(
        _attr(ctx, ATTR_PRIMARY), uuid, deadline=ctx.deadline, private=True
    )
    # While it runs, this node's position moves on: what start published is
    # stale, and an election must not count it (demote publishes the real one).
    running = Report(Position(uuid, -1), False)
    cluster.set_attr(_attr(ctx, ATTR_POSITION), running.encode(), deadline=ctx.deadline)
    cluster.set_promotion(ctx.resource, PROMOTE_SCORE, deadline=ctx.deadline)
    cluster.delete_attr(_attr(ctx, ATTR_WAITING), deadline=ctx.deadline)
    return OcfRc.SUCCESS


def _prepare_bootstrap(cfg: Config) -> None:
    datadir = cfg.get_str("datadir")
    if state.mark_safe_to_bootstrap(datadir):
        log.info("marked %s/grastate.dat safe_to_bootstrap", datadir)
    gvwstate = os.path.join(datadir, "gvwstate.dat")
    try:
        if os.path.getsize(gvwstate) == 0:
            os.unlink(gvwstate)
    except OSError:
        pass


def _start_mariadbd(
    cfg: Config, ctx: ActionContext, position: Position, bootstrap: bool
) -> int:
    argv = [
        cfg.get_str("binary"),
        f"--defaults-file={cfg.get_str('config')}",
        f"--datadir={cfg.get_str('datadir')}",
        f"--user={cfg.get_str('user')}",
        f"--socket={cfg.get_str('socket')}",
        f"--wsrep-cluster-address={cfg.get_str('wsrep_cluster_address')}",
    ]
    if cfg.get_str("log"):
        argv.append(f"--log-error={cfg.get_str('log')}")
    if not position.empty:
        argv.append(f"--wsrep-start-position={position}")
    if bootstrap:
        argv.append("--wsrep-new-cluster")
    return proc.start(argv, pidfile=statefile.pidfile(cfg, ctx))


def _wait_synced(
    cfg: Config, ctx: ActionContext, pid: int, joining: bool
) -> dict[str, str]:
    """Wait until mariadbd is a healthy member; stop it if that does not happen.

    A joiner gives up early when no node announces a Primary Component any
    more (it went away while we joined): waiting longer cannot succeed.
    """
    remaining = ctx.deadline.remaining()
    budget = max(1.0, remaining - min(STOP_RESERVE, remaining / 2))
    if cfg.get_int("sst_timeout"):
        budget = min(budget, float(cfg.get_int("sst_timeout")))
    began = time.monotonic()
    end = began + budget
    last_state, last_note, last_peer_check = "", began, began
    outside_since: float | None = None
    problem = "it did not answer yet"
    while time.monotonic() < end:
        ended = proc.reap(pid)
        if ended is not None or not proc.is_alive(pid):
            proc.remove_file(statefile.pidfile(cfg, ctx))
            raise AgentError(
                f"mariadbd exited while joining ({ended or 'gone'}); {_log_hint(cfg)}"
            )
        try:
            status = client.status(cfg, ctx.deadline)
        except AgentError as exc:
            problem, current = str(exc), "starting"
        else:
            problem = client.problem(cfg, status)
            current = status.get("wsrep_local_state_comment", "?")
            if not problem:
                log.info("Synced after %.1f s", time.monotonic() - began)
                return status
            if status.get("wsrep_cluster_status") == "Primary":
                outside_since = None
            elif outside_since is None:
                outside_since = time.monotonic()
            elif time.monotonic() - outside_since >= NO_PRIMARY_GIVE_UP:
                problem = (
                    f"no Primary Component reachable for {NO_PRIMARY_GIVE_UP:.0f} s "
                    f"(wsrep_cluster_status={status.get('wsrep_cluster_status')})"
                )
                break
        now = time.monotonic()
        if joining and now - last_peer_check >= PEER_CHECK_EVERY:
            last_peer_check = now
            if not _primary_peers(cfg, ctx, _me(ctx)):
                problem = "the Primary Component it joined is gone"
                break
        if current != last_state or now - last_note >= PROGRESS_EVERY:
            log.info("waiting for Synced (%.0f s): %s", now - began, current)
            last_state, last_note = current, now
        time.sleep(POLL)
    waited = time.monotonic() - began
    log.error("not Synced after %.0f s (%s); stopping mariadbd", waited, problem)
    proc.stop(pid, ctx.deadline)
    proc.remove_file(statefile.pidfile(cfg, ctx))
    raise ActionTimeoutError(f"mariadbd was not Synced after {waited:.0f} s: {problem}")


def _stop_mariadbd(cfg: Config, ctx: ActionContext) -> None:
    ident = _identity(cfg) if cfg.get_str("binary") else None
    proc.stop_service(
        statefile.pidfile(cfg, ctx),
        ident,
        ctx.deadline,
        degraded=ctx.degraded,
        name="mariadbd",
    )
    if cfg.get_str("datadir") and _datadir_locked(cfg.get_str("datadir")):
        raise AgentError(f"{cfg.get_str('datadir')} is still locked by another process")


def _withdraw_primary(ctx: ActionContext) -> None:
    """No node may start joining this one any more (best effort: stopping wins)."""
    try:
        cluster.delete_attr(_attr(ctx, ATTR_PRIMARY), deadline=ctx.deadline.sub(5))
    except cluster.ClusterToolError as exc:
        log.warning("could not withdraw %s: %s", _attr(ctx, ATTR_PRIMARY), exc)


def demote(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Stop mariadbd and publish the position it stopped at."""
    _withdraw_primary(ctx)
    _stop_mariadbd(cfg, ctx)
    report = _final_position(cfg, ctx) or _recover(cfg, ctx)
    log.info("demoted at %s", report.encode())
    _publish(ctx, report)
    cluster.clear_promotion(ctx.resource, deadline=ctx.deadline)
    return OcfRc.SUCCESS


def stop(cfg: Config, ctx: ActionContext) -> OcfRc:
    """Stop mariadbd if it runs and withdraw this node's reports."""
    _withdraw_primary(ctx)
    _stop_mariadbd(cfg, ctx)
    report = _final_position(cfg, ctx)
    if report is not None:
        log.info("stopped at %s", report.encode())
    proc.remove_file(_statefile(ctx))
    try:
        _unpublish(ctx)
    except cluster.ClusterToolError as exc:
        log.warning("could not withdraw node attributes: %s", exc)
    return OcfRc.SUCCESS


def notify(cfg: Config, ctx: ActionContext) -> OcfRc:
    """After a clone event, an unpromoted node re-checks what it may do."""
    kind = ctx.meta.get("notify_type", "")
    operation = ctx.meta.get("notify_operation", "")
    log.debug("notify %s-%s", kind, operation)
    if kind != "post" or _saved_report(ctx) is None:
        return OcfRc.SUCCESS
    if proc.find(statefile.pidfile(cfg, ctx), _identity(cfg)) is not None:
        return OcfRc.SUCCESS
    try:
        _refresh(cfg, ctx, _me(ctx))
    except AgentError as exc:
        log.warning("notify: %s", exc)
    return OcfRc.SUCCESS
