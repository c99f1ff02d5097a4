#!/usr/bin/env python3
"""Write the manual pages of the installed commands, from their declarations.

    python3 packaging/manpages.py OUTDIR

Like fence-agents, whose pages come from the agents' metadata, nothing here
is typed twice: the fence agents' pages come from their option declarations
(``fence_agents.registry``), ``hakit-cib``'s from its click commands.  Run by
the DEB and RPM builds; the output is roff for man(7).
"""

from __future__ import annotations

import configparser
import inspect
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTION_FENCE = "8"
SECTION_CIB = "1"


def version() -> str:
    """hakit's version, from the one place it is written."""
    sys.path.insert(0, ROOT)
    try:
        from ha_common import __version__  # noqa: PLC0415
    except ImportError:
        config = configparser.ConfigParser()
        config.read(os.path.join(ROOT, "setup.cfg"))
        return config["metadata"]["version"]
    return str(__version__)


def roff(text: str) -> str:
    """``text`` safe as roff: backslashes escaped, no line starting a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _header(name: str, section: str, title: str) -> list[str]:
    return [
        f'.TH {name.upper()} {section} "" "hakit {version()}" "{title}"',
        ".SH NAME",
        f"{roff(name)}",
    ]


def fence_page(name: str) -> str:
    """The man page of fence agent ``name``."""
    from fence_agents import registry  # noqa: PLC0415

    agent = registry.agent(name)
    lines = _header(name, SECTION_FENCE, "System Administration")
    lines[-1] += f" \\- {roff(agent.shortdesc)}"
    lines += [
        ".SH SYNOPSIS",
        f".B {roff(name)}",
        "[\\fIOPTIONS\\fR]",
        ".br",
        f"{roff(name)} < \\fIkey=value lines on standard input\\fR",
        ".SH DESCRIPTION",
        roff(agent.longdesc),
        ".PP",
        "Options come either as command line flags or, when there are none, as",
        "key=value lines on standard input, as pacemaker\\-fenced passes them.",
        ".SH OPTIONS",
    ]
    for opt in agent.options:
        flags = ", ".join(f"\\fB{roff(f)}\\fR" for f in (opt.short, opt.long) if f)
        value = "" if opt.kind.name == "flag" else f" \\fI{roff(opt.metavar)}\\fR"
        lines += [".TP", f"{flags}{value}", roff(opt.shortdesc or opt.name)]
        stdin = opt.name + (f" (also {', '.join(opt.aliases)})" if opt.aliases else "")
        notes = [f"On standard input: {stdin}."]
        if opt.default is not None:
            notes.append(f"Default: {opt.default}.")
        if opt.required:
            notes.append("Required.")
        if opt.secret:
            notes.append("Secret: never logged.")
        lines += [".br", roff(" ".join(notes))]
    lines += [
        ".SH ACTIONS",
        ".TP",
        roff(", ".join(agent.actions)),
        ".SH EXIT STATUS",
        "0 success; 1 failure (also bad usage); 2 for status and monitor:",
        "the BMC answered and the machine is off.",
        ".SH SEE ALSO",
        "\\fBstonith_admin\\fR(8), \\fBpacemaker\\-fenced\\fR(7)",
    ]
    return "\n".join(lines) + "\n"


def cib_page() -> str:
    """The man page of ``hakit-cib``, from its click commands."""
    import click  # noqa: PLC0415

    from cib_builder import cli  # noqa: PLC0415

    group = cli.main
    lines = _header("hakit-cib", SECTION_CIB, "User Commands")
    lines[-1] += " \\- " + roff(group.help or "").splitlines()[0]
    lines += [
        ".SH SYNOPSIS",
        ".B hakit\\-cib",
        "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] \\fITOPOLOGY_FILE\\fR",
        ".SH COMMANDS",
    ]
    context = click.Context(group, info_name="hakit-cib")
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None:
            continue
        paragraphs = inspect.cleandoc(command.help or "").split("\n\n")
        lines += [".SS " + roff(name)]
        for number, paragraph in enumerate(paragraphs):
            lines += ([".PP"] if number else []) + [roff(" ".join(paragraph.split()))]
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            flags = ", ".join(f"\\fB{roff(f)}\\fR" for f in param.opts)
            lines += [".TP", flags, roff(param.help or "")]
    lines += [
        ".SH EXIT STATUS",
        "0 ok; 1 problems found; 2 usage or topology error; 4 a Pacemaker tool",
        "failed.",
        ".SH FILES",
        "/usr/share/hakit/examples/opnfv\\-3\\-controllers.toml, the reference",
        "topology.",
        ".SH SEE ALSO",
        "\\fBcrm\\fR(8), \\fBcibadmin\\fR(8), \\fBcrm_verify\\fR(8),",
        "\\fBcrm_simulate\\fR(8)",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Write every page into the directory given as the only argument.

    ``--version`` prints hakit's version instead (for the package builds).
    """
    if sys.argv[1:] == ["--version"]:
        print(version())
        return 0
    if len(sys.argv) != 2:  # noqa: PLR2004
        print("usage: manpages.py OUTDIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    sys.path.insert(0, ROOT)
    from fence_agents import registry  # noqa: PLC0415

    pages = {f"{n}.{SECTION_FENCE}": fence_page(n) for n in registry.names()}
    pages[f"hakit-cib.{SECTION_CIB}"] = cib_page()
    for filename, text in pages.items():
        with open(os.path.join(out, filename), "w", encoding="utf-8") as handle:
            handle.write(text)
        print(os.path.join(out, filename))
    return 0


if __name__ == "__main__":
    sys.exit(main())
