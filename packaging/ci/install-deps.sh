#!/usr/bin/env bash
# Install what hakit's tests need on Debian 12: the cluster stack and the daemons
# the integration tests drive, then the project virtualenvs.  Idempotent.
# Package installs never start services (policy-rc.d), since the tests start
# their own daemons on loopback ports.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$here/.venv}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}

DEB_PACKAGES=(
  pacemaker pacemaker-cli-utils corosync crmsh pcs resource-agents fence-agents
  libxml2-utils iproute2 util-linux procps psmisc curl openssl ca-certificates
  python3 python3-venv python3-psutil python3-lxml python3-click python3-pyghmi
  rabbitmq-server hyperfine make openipmi ipmitool haproxy memcached
  mariadb-server mariadb-client galera-4 rsync socat
  # package builds (make deb, make rpm) and what the packages depend on
  debhelper dh-python pybuild-plugin-pyproject python3-all python3-setuptools
  lintian rpm rpmlint python3-cryptography python3-jsonpatch python3-json-pointer
  python3-jsonpath-rw python3-requests python3-requests-toolbelt
  python3-requests-unixsocket
)

need_apt() {
  local pkg
  for pkg in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || return 0
  done
  return 1
}

if need_apt; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: Debian packages missing and not root; run as root" >&2
    exit 1
  fi
  # Keep postinst scripts from starting corosync, pacemaker, rabbitmq...
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q -o DPkg::Lock::Timeout=900
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=900 \
    "${DEB_PACKAGES[@]}"
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
fi
# agents run by hand need HA_RSCTMP; nothing recreates it without systemd-tmpfiles
install -d -m 1755 /run/resource-agents 2>/dev/null || true

# The project virtualenv: hakit itself (editable) and the test tools.
stamp="$VENV/.hakit-stamp"
want=$(cat "$here/setup.cfg" "$here/pyproject.toml" | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$SYSTEM_PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -e "$here[test]"
  echo "$want" >"$stamp"
fi

# The OpenStack services the integration tests run for real (keystone, placement,
# nova).  Kept outside the checkout and keyed by its requirements, because it is
# large and slow to build.
"$here/packaging/ci/openstack-venv.sh"
