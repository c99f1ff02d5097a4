#!/usr/bin/env bash
# Build (once) the virtualenv that holds the real OpenStack services used by the
# integration tests.  Prints nothing when it is already current.  Its location is
# printed by `openstack-venv.sh --path`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
req="$here/openstack-requirements.txt"
key=$(sha256sum "$req" | cut -c1-12)
OS_VENV=${HAKIT_OPENSTACK_VENV:-/var/cache/hakit-test/openstack-$key}
if [ "${1:-}" = "--path" ]; then echo "$OS_VENV"; exit 0; fi
if [ -x "$OS_VENV/bin/keystone-manage" ] && [ -f "$OS_VENV/.complete" ]; then exit 0; fi
rm -rf "$OS_VENV"
mkdir -p "$(dirname "$OS_VENV")"
/usr/bin/python3 -m venv "$OS_VENV"
"$OS_VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
"$OS_VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
touch "$OS_VENV/.complete"
