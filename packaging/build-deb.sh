#!/usr/bin/env bash
# make deb: hakit's .deb packages, and python3-redfish's (Debian 12 has none),
# built with dpkg-buildpackage in scratch copies, then checked by lintian.
#
#   packaging/build-deb.sh [OUTDIR]        default OUTDIR: dist/deb
#
# The version comes from setup.cfg (through ha_common.__version__ once it
# exists); the changelog is written from it at build time.
set -euo pipefail
# The distribution's tools and interpreter only: a python3 of pyenv or of a
# virtualenv on PATH must not end up in the packages.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONPATH VIRTUAL_ENV PYTHONHOME

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/dist/deb}
REDFISH_VERSION=3.3.1
REDFISH_SHA256=a661ff6c303072fadfba5b4ad8f0147895ac8a177743015bab48464399b4e528
MAINTAINER="hakit developers <hakit-devel@lists.hakit.invalid>"

version=$(cd "$here" && python3 packaging/manpages.py --version)
scratch=$(mktemp -d)
[ -n "${KEEP_SCRATCH:-}" ] || trap 'rm -rf "$scratch"' EXIT
# One date for every changelog: the last commit's, so builds are repeatable.
stamp=$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH=$stamp
when=$(date -u -R -d "@$stamp")

changelog() {  # package version text
    printf '%s (%s) unstable; urgency=medium\n\n  * %s\n\n -- %s  %s\n' \
        "$1" "$2" "$3" "$MAINTAINER" "$when"
}

# -- hakit: a copy of the tree without the virtualenv, caches and VCS -----------
src="$scratch/hakit-$version"
mkdir -p "$src"
tar -C "$here" --exclude=./.venv --exclude=./.git --exclude=./dist \
    --exclude='*/__pycache__' --exclude=./.mypy_cache --exclude=./.ruff_cache \
    --exclude=./.pytest_cache --exclude='*.egg-info' --exclude=./build \
    -cf - . | tar -C "$src" -xf -
mv "$src/packaging/debian" "$src/debian"
changelog hakit "$version" "hakit $version." >"$src/debian/changelog"
(cd "$src" && dpkg-buildpackage -us -uc -b >"$scratch/hakit-build.log" 2>&1) || {
    tail -40 "$scratch/hakit-build.log" >&2
    exit 1
}

# -- python3-redfish from the upstream sdist -------------------------------------
rf="$scratch/redfish"
mkdir -p "$rf"
python3 -m pip download --quiet --no-deps --no-binary :all: \
    --dest "$rf" "redfish==$REDFISH_VERSION" 2>/dev/null ||
    python3 -m pip download --quiet --no-deps --no-binary :all: \
        --dest "$rf" "redfish==$REDFISH_VERSION"
tarball="$rf/redfish-$REDFISH_VERSION.tar.gz"
echo "$REDFISH_SHA256  $tarball" | sha256sum --check --quiet
cp "$tarball" "$rf/python-redfish_$REDFISH_VERSION.orig.tar.gz"
tar -C "$rf" -xzf "$tarball"
rsrc="$rf/redfish-$REDFISH_VERSION"
cp -r "$here/packaging/redfish/debian" "$rsrc/debian"
changelog python-redfish "$REDFISH_VERSION-1" \
    "Upstream $REDFISH_VERSION, built by hakit for Debian 12." >"$rsrc/debian/changelog"
(cd "$rsrc" && dpkg-buildpackage -us -uc -b >"$scratch/redfish-build.log" 2>&1) || {
    tail -40 "$scratch/redfish-build.log" >&2
    exit 1
}

mkdir -p "$out"
rm -f "$out"/*.deb
mv "$scratch"/*.deb "$rf"/*.deb "$out"/
ls -1 "$out"/*.deb
# lintian: errors fail the build; the warnings left are listed, with the
# reasons, in packaging/README.md.
lintian --fail-on error --suppress-tags-from-file "$here/packaging/lintian-overrides" \
    "$out"/*.deb
