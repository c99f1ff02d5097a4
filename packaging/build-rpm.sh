#!/usr/bin/env bash
# make rpm: hakit's RPM packages for the RHEL 9 family (packaging/rpm/hakit.spec),
# built with rpmbuild in a scratch topdir, then checked by rpmlint.
#
#   packaging/build-rpm.sh [OUTDIR]        default OUTDIR: dist/rpm
#
# On a Debian build host rpm has no database of the build dependencies, so
# they are not checked (--nodeps); on EL9 drop it and install them.
set -euo pipefail
# The distribution's tools and interpreter only: a python3 of pyenv or of a
# virtualenv on PATH must not end up in the packages.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONPATH VIRTUAL_ENV PYTHONHOME

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/dist/rpm}
version=$(cd "$here" && python3 packaging/manpages.py --version)
scratch=$(mktemp -d)
[ -n "${KEEP_SCRATCH:-}" ] || trap 'rm -rf "$scratch"' EXIT
stamp=$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH=$stamp

mkdir -p "$scratch"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}
tar -C "$here" --exclude=./.venv --exclude=./.git --exclude=./dist \
    --exclude='*/__pycache__' --exclude=./.mypy_cache --exclude=./.ruff_cache \
    --exclude=./.pytest_cache --exclude='*.egg-info' --exclude=./build \
    --transform "s,^\.,hakit-$version," -czf "$scratch/SOURCES/hakit-$version.tar.gz" .
nodeps=()
[ -f /etc/debian_version ] && nodeps=(--nodeps)
rpmbuild -bb "${nodeps[@]}" \
    --define "_topdir $scratch" \
    --define "hakit_version $version" \
    "$here/packaging/rpm/hakit.spec" >"$scratch/build.log" 2>&1 || {
    tail -40 "$scratch/build.log" >&2
    exit 1
}
mkdir -p "$out"
rm -f "$out"/*.rpm
find "$scratch/RPMS" -name '*.rpm' -exec mv -t "$out" {} +
ls -1 "$out"/*.rpm
# rpmlint: errors fail the build; the warnings left are listed, with the
# reasons, in packaging/README.md.
rpmlint --rpmlintrc "$here/packaging/rpm/hakit.rpmlintrc" "$out"/*.rpm
