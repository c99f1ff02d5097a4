"""Say which package provides a Python module an agent could not import.

An agent installed without one of its libraries must fail with one line an
installer can act on ("install python3-redfish"), never ``internal error:
ModuleNotFoundError``.  :func:`load` imports a module named by a string, as
the registries and the runner resolve declarations and handlers.  Standard
library only; nothing happens at import.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing costs start-up time; see STYLE.md section 9
if TYPE_CHECKING:
    from types import ModuleType

#: Top-level module -> the Debian package that provides it (EL9 uses the same
#: names for these).
PROVIDERS = {
    "psutil": "python3-psutil",
    "pyghmi": "python3-pyghmi",
    "cryptography": "python3-cryptography",
    "redfish": "python3-redfish",
    "requests": "python3-requests",
    "requests_toolbelt": "python3-requests-toolbelt",
    "requests_unixsocket": "python3-requests-unixsocket",
    "jsonpath_rw": "python3-jsonpath-rw",
    "jsonpointer": "python3-json-pointer",
    "jsonpatch": "python3-jsonpatch",
    "lxml": "python3-lxml",
    "click": "python3-click",
    "tomli": "python3-tomli",
}
#: hakit's own packages: all in python3-hakit.
HAKIT = ("ha_common", "ocf_agents", "fence_agents", "cib_builder")
#: Debian 12 has no python3-redfish; hakit builds one.
REDFISH_NOTE = " (Debian 12 has none: hakit's make deb builds it)"


def provider(module: str) -> str | None:
    """The package that provides ``module`` (dotted names allowed), if known."""
    top = module.split(".", 1)[0]
    if top in HAKIT:
        return "python3-hakit"
    return PROVIDERS.get(top)


def advice(module: str) -> str:
    """What to install for ``module``: ``install python3-x``, or '' if unknown."""
    package = provider(module)
    if package is None:
        return ""
    note = REDFISH_NOTE if package == "python3-redfish" else ""
    return f"install {package}{note}"


def describe(exc: ModuleNotFoundError) -> str:
    """One line for a missing module: which one, and what to install."""
    module = exc.name or "?"
    todo = advice(module)
    return f"the Python module {module} is missing" + (f": {todo}" if todo else "")


def load(name: str) -> ModuleType:
    """Import the module ``name`` (absolute, dotted) and return it.

    What ``importlib.import_module`` does for an absolute name, without
    importing ``importlib`` and the ``warnings`` it pulls in: about 0.5 ms
    of every agent run, monitors included (bench/README.md).
    """
    __import__(name)
    return sys.modules[name]
