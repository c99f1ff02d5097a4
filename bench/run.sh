#!/usr/bin/env bash
# Start-up benchmark of hakit's OCF agents against ClusterLabs' Dummy (shell)
# and dummypy (Python), fork+exec to exit, timed by hyperfine.  See
# bench/README.md.  `make bench` runs it; it needs root because the stand-in
# service runs as user=root and the Galera benchmark builds namespaces.
#
#   bench/run.sh            writes bench/results/{metadata,monitor,floor}.{md,json}
#                           and bench/results/startup.md (the summary), then
#                           runs bench/cib_bench.py: bench/results/cib.md,
#                           bench/test_cib_bench.py (pytest-benchmark, printed only),
#                           bench/fence_bench.py: bench/results/fence.{md,json}
#                           bench/galera_bench.py: bench/results/galera.{md,json}
#                           bench/rabbitmq_bench.py: bench/results/rabbitmq.{md,json}
#                           and bench/opendaylight_bench.py: bench/results/opendaylight.{md,json}
#
# Everything it starts lives in one temporary directory and is stopped by the
# EXIT trap: the stand-in service (by the agent's stop, then by its pid) and the
# Dummy/dummypy state file.  Nothing is installed outside that directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
RESULTS="$HERE/results"
PYTHON=${BENCH_PYTHON:-/usr/bin/python3}
RUNS=${BENCH_RUNS:-50}
WARMUP=${BENCH_WARMUP:-5}
OCF_ROOT_DIR=/usr/lib/ocf
DUMMY="$OCF_ROOT_DIR/resource.d/heartbeat/Dummy"
DUMMYPY="$OCF_ROOT_DIR/resource.d/heartbeat/dummypy"
AGENT_NAME=glance-api
INSTANCE=bench-glance

die() {
    echo "bench: $*" >&2
    exit 1
}

command -v hyperfine >/dev/null || die "hyperfine is not installed (apt-get install hyperfine)"
[[ -x $PYTHON ]] || die "$PYTHON not found (set BENCH_PYTHON)"
[[ -x $DUMMY ]] || die "$DUMMY not found (apt-get install resource-agents-base)"
[[ -x $DUMMYPY ]] || die "$DUMMYPY not found (apt-get install resource-agents-base)"

WORK=$(mktemp -d /tmp/hakit-bench.XXXXXX)
AGENT="$WORK/ocf/resource.d/hakit/$AGENT_NAME"
STATE="$WORK/dummy.state"
SVC_PID=""
ENVV=()

# Stop the service if /proc says pid $1 is still the one started from $WORK.
kill_ours() {
    local pid=$1 sig=$2
    [[ -r /proc/$pid/cmdline ]] || return 0
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$WORK/bin/fakesvc" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if ((${#ENVV[@]})); then
        [[ -x $AGENT ]] && env -i "${ENVV[@]}" "$AGENT" stop >/dev/null 2>&1
        env -i "${ENVV[@]}" "$DUMMY" stop >/dev/null 2>&1
        env -i "${ENVV[@]}" "$DUMMYPY" stop >/dev/null 2>&1
    fi
    if [[ -n $SVC_PID ]]; then
        kill_ours "$SVC_PID" TERM
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [[ -d /proc/$SVC_PID ]] || break
            sleep 0.1
        done
        kill_ours "$SVC_PID" KILL
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- stage hakit: library and launchers under $WORK, nothing else touched -----
# --destdir / with an absolute --libdir: the launchers put $WORK/lib on sys.path
# themselves, as an installed agent under Pacemaker (no PYTHONPATH) would.
"$PYTHON" "$ROOT/packaging/install.py" --destdir / --python "$PYTHON" \
    --libdir "$WORK/lib" --ocf-root "$WORK/ocf" --bindir "$WORK/bin" \
    --sbindir "$WORK/sbin" >/dev/null
# Byte-compile like a Debian postinst (py3compile), so no run pays for it.
"$PYTHON" -m compileall -q "$WORK/lib" >/dev/null
[[ -x $AGENT ]] || die "the installer did not write $AGENT"

# --- the stand-in service and its parameters ---------------------------------
mkdir -p "$WORK/bin" "$WORK/rsctmp"
install -m 0755 "$ROOT/tests/contract/data/fakesvc.py" "$WORK/bin/fakesvc"
PORT=$(free_port)
printf 'port = %s\n' "$PORT" >"$WORK/fakesvc.conf"

# One clean environment for every agent (each ignores the others' parameters).
# Dummy and dummypy both name their parameter "state": they share one file.
# CRM_meta_interval != 0 makes monitor a recurring monitor, not a probe.
ENVV=(
    "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
    "LANG=C.UTF-8"
    "OCF_ROOT=$OCF_ROOT_DIR"
    "HA_RSCTMP=$WORK/rsctmp"
    "OCF_RESOURCE_INSTANCE=$INSTANCE"
    "OCF_RESKEY_CRM_meta_timeout=20000"
    "OCF_RESKEY_CRM_meta_interval=10000"
    "OCF_RESKEY_binary=$WORK/bin/fakesvc"
    "OCF_RESKEY_config=$WORK/fakesvc.conf"
    "OCF_RESKEY_user=root"
    "OCF_RESKEY_port=$PORT"
    "OCF_RESKEY_healthcheck_path=/healthcheck"
    "OCF_RESKEY_state=$STATE"
)

run_checked() { # label, command...: run once, rc must be 0
    local label=$1 rc=0
    shift
    env -i "${ENVV[@]}" "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    if ((rc != 0)); then
        echo "bench: '$label' ($*) exited $rc, expected 0; its stderr:" >&2
        sed 's/^/    /' "$WORK/err" >&2
        exit 1
    fi
}

run_checked "hakit $AGENT_NAME start" "$AGENT" start
SVC_PID=$(cat "$WORK/rsctmp/hakit-$INSTANCE.pid" 2>/dev/null || true)
[[ $SVC_PID =~ ^[0-9]+$ ]] || die "no pidfile after start"
run_checked "Dummy start" "$DUMMY" start
run_checked "dummypy start" "$DUMMYPY" start

# --- the comparisons ----------------------------------------------------------
mkdir -p "$RESULTS"

bench() { # name, then pairs of (label, command line without spaces in paths)
    local name=$1
    shift
    local args=() label cmd
    while (($#)); do
        label=$1 cmd=$2
        shift 2
        # shellcheck disable=SC2086 # cmd is split on purpose, as hyperfine -N does
        run_checked "$label" $cmd
        args+=(-n "$label" "$cmd")
    done
    echo "== $name"
    env -i "${ENVV[@]}" hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" \
        --export-markdown "$RESULTS/$name.md" --export-json "$RESULTS/$name.json" \
        "${args[@]}"
}

bench metadata \
    "hakit $AGENT_NAME meta-data" "$AGENT meta-data" \
    "Dummy meta-data" "$DUMMY meta-data" \
    "dummypy meta-data" "$DUMMYPY meta-data"

bench monitor \
    "hakit $AGENT_NAME monitor" "$AGENT monitor" \
    "Dummy monitor" "$DUMMY monitor" \
    "dummypy monitor" "$DUMMYPY monitor"

# The floor every Python agent pays: the launchers' interpreter (-sS: no site
# module), no imports; and, for scale, the same interpreter with site (-s).
bench floor \
    "python3 -sS -c pass" "$PYTHON -sS -c pass" \
    "python3 -s -c pass" "$PYTHON -s -c pass"

# --- summary ------------------------------------------------------------------
export BENCH_UNAME BENCH_NPROC BENCH_PYVER BENCH_HYPERFINE BENCH_CPU BENCH_DATE BENCH_RUNS_USED
BENCH_UNAME=$(uname -r)
BENCH_NPROC=$(nproc)
BENCH_PYVER=$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')
BENCH_HYPERFINE=$(hyperfine --version | awk '{print $2}')
BENCH_CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo || true)
BENCH_DATE=$(date -u +%Y-%m-%d)
BENCH_RUNS_USED="$RUNS runs, $WARMUP warm-up"

"$PYTHON" - "$RESULTS" "$PYTHON" <<'EOF'
import json
import os
import sys

results, python = sys.argv[1], sys.argv[2]
TARGET = {"metadata": 40.0, "monitor": 60.0}


def load(name):
    with open(os.path.join(results, f"{name}.json")) as handle:
        return {r["command"]: r for r in json.load(handle)["results"]}


def ms(value):
    return value * 1000.0


lines = [
    "# hakit start-up benchmark",
    "",
    f"- date: {os.environ['BENCH_DATE']} (UTC)",
    f"- kernel: `{os.environ['BENCH_UNAME']}`, cores: {os.environ['BENCH_NPROC']}, "
    f"CPU: {os.environ['BENCH_CPU'] or 'unknown'}",
    f"- python: `{python}` {os.environ['BENCH_PYVER']}, "
    f"hyperfine {os.environ['BENCH_HYPERFINE']} (-N, {os.environ['BENCH_RUNS_USED']})",
    "",
    "Median wall time, fork+exec to exit, in ms (lower is better).",
    "",
    "| action | hakit glance-api | Dummy (sh) | dummypy | hakit/Dummy "
    "| hakit/dummypy | target | met |",
    "|---|---:|---:|---:|---:|---:|---:|:-:|",
]
for name, action in (("metadata", "meta-data"), ("monitor", "monitor")):
    rows = load(name)
    med = {k.split()[0]: ms(v["median"]) for k, v in rows.items()}
    hakit, dummy, dummypy = med["hakit"], med["Dummy"], med["dummypy"]
    target = TARGET[name]
    lines.append(
        f"| {action} | {hakit:.1f} | {dummy:.1f} | {dummypy:.1f} "
        f"| {hakit / dummy:.1f}x | {hakit / dummypy:.2f}x | < {target:.0f} "
        f"| {'yes' if hakit < target else 'NO'} |"
    )
floors = load("floor")
lines += [
    "",
    "Interpreter floor, no imports: "
    + "; ".join(f"`{label}` median {ms(r['median']):.1f} ms" for label, r in floors.items())
    + " (the launchers run `-sS`).",
    "",
    "| command | mean ± σ (ms) | min (ms) | max (ms) |",
    "|---|---:|---:|---:|",
]
for name in ("metadata", "monitor", "floor"):
    for label, r in load(name).items():
        lines.append(
            f"| {label} | {ms(r['mean']):.1f} ± {ms(r['stddev']):.1f} "
            f"| {ms(r['min']):.1f} | {ms(r['max']):.1f} |"
        )
text = "\n".join(lines) + "\n"
with open(os.path.join(results, "startup.md"), "w") as handle:
    handle.write(text)
print()
print(text, end="")
EOF
echo "bench: wrote $RESULTS/startup.md"

# --- CIB builder: build + validate by size (bench/cib_bench.py) ---------------
# In-process timing with the project's virtualenv (lxml); starts nothing.
CIB_PYTHON=${BENCH_CIB_PYTHON:-${VENV:-$ROOT/.venv}/bin/python}
[[ -x $CIB_PYTHON ]] || die "$CIB_PYTHON not found (run make deps, or set BENCH_CIB_PYTHON)"
echo
echo "== cib"
"$CIB_PYTHON" "$HERE/cib_bench.py" --runs "${BENCH_CIB_RUNS:-5}" --output "$RESULTS/cib.md"
# The same paths under pytest-benchmark (bench/test_cib_bench.py): a second,
# calibrated measurement that also checks every run built a valid CIB.
echo
echo "== cib (pytest-benchmark)"
(cd "$ROOT" && "$CIB_PYTHON" -m pytest bench/test_cib_bench.py -q -p no:cacheprovider \
    --benchmark-columns=median,min,max,rounds)

# --- fence agents: hakit vs ClusterLabs on ipmi_sim and sushy (bench/fence_bench.py)
# Starts one ipmi_sim and one Redfish emulator in its own temporary directory,
# stops them however it ends; stages hakit's fence agents there (nothing is
# installed).  Writes bench/results/fence.{md,json}.  About 1 min 45 s.
FENCE_PYTHON=${BENCH_FENCE_PYTHON:-${VENV:-$ROOT/.venv}/bin/python}
[[ -x $FENCE_PYTHON ]] || die "$FENCE_PYTHON not found (run make deps, or set BENCH_FENCE_PYTHON)"
echo
echo "== fence"
"$FENCE_PYTHON" "$HERE/fence_bench.py" --runs "${BENCH_FENCE_RUNS:-10}" --output-dir "$RESULTS"

# --- Galera monitor: hakit vs ocf:heartbeat:galera (bench/galera_bench.py) ----
# Brings up the namespaced 3-node lab (Corosync + Pacemaker in network/mount/UTS
# namespaces) with one MariaDB Galera member per node, promotes all three with
# hakit's agent staged in its own temporary directory, and times both agents'
# monitor of the promoted member in ctl1 with hyperfine.  Removes the
# mariadbds, the cluster and its namespaces however it ends.  Writes
# bench/results/galera.{md,json}.  About 1 min.
GALERA_PYTHON=${BENCH_GALERA_PYTHON:-${VENV:-$ROOT/.venv}/bin/python}
[[ -x $GALERA_PYTHON ]] || die "$GALERA_PYTHON not found (run make deps, or set BENCH_GALERA_PYTHON)"
echo
echo "== galera"
"$GALERA_PYTHON" "$HERE/galera_bench.py" --runs "${BENCH_GALERA_RUNS:-50}" \
    --warmup "${BENCH_GALERA_WARMUP:-2}" --output-dir "$RESULTS"

# --- RabbitMQ monitor: hakit vs ocf:heartbeat:rabbitmq-cluster -----------------
# (bench/rabbitmq_bench.py) Brings up the namespaced 3-node lab with one
# RabbitMQ member per node (rabbit@ctl1..3), forms the cluster with hakit's
# agent staged in its own temporary directory, and times both agents' monitor
# of the member in ctl1 with hyperfine.  Removes the members, the cluster and
# its namespaces however it ends.  Writes bench/results/rabbitmq.{md,json}.
# About 3 min (ClusterLabs' monitor takes seconds per run).
RABBIT_PYTHON=${BENCH_RABBITMQ_PYTHON:-${VENV:-$ROOT/.venv}/bin/python}
[[ -x $RABBIT_PYTHON ]] || die "$RABBIT_PYTHON not found (run make deps, or set BENCH_RABBITMQ_PYTHON)"
echo
echo "== rabbitmq"
"$RABBIT_PYTHON" "$HERE/rabbitmq_bench.py" --runs "${BENCH_RABBITMQ_RUNS:-30}" \
    --warmup "${BENCH_RABBITMQ_WARMUP:-1}" --output-dir "$RESULTS"

# --- OpenDaylight monitor: hakit vs one curl /diagstatus ----------------------
# (bench/opendaylight_bench.py) No ClusterLabs agent exists for OpenDaylight.
# Starts the lab's Karaf stand-in with hakit's agent staged in its own
# temporary directory, on a free loopback port, and times the monitor (level
# 0 and 10) next to one curl of /diagstatus.  Removes the member and its
# directory however it ends.  Writes bench/results/opendaylight.{md,json}.
# Under 1 min.
ODL_PYTHON=${BENCH_ODL_PYTHON:-${VENV:-$ROOT/.venv}/bin/python}
[[ -x $ODL_PYTHON ]] || die "$ODL_PYTHON not found (run make deps, or set BENCH_ODL_PYTHON)"
echo
echo "== opendaylight"
"$ODL_PYTHON" "$HERE/opendaylight_bench.py" --runs "${BENCH_ODL_RUNS:-90}" \
    --warmup "${BENCH_ODL_WARMUP:-3}" --output-dir "$RESULTS"
