"""`likeness init` and `likeness demo`: creating a studio home, and the whole story in a
throw-away one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from likeness.cli.common import JsonOpt, literal, load_studio_settings
from likeness.output import emit, stdout


def init(studio: Annotated[str | None, typer.Option("--studio", help="Studio name.")] = None,
         as_json: JsonOpt = False) -> None:
    """Create the studio home: signing key (0600), C2PA chain, registry database, ledger."""
    from likeness.studio import init_studio, redact_url

    report = init_studio(load_studio_settings(), studio_name=studio)
    data = {"home": str(report.home), "created": list(report.created),
            "database": redact_url(report.database_url), "changed": bool(report.created)}

    def render() -> None:
        if report.created:
            stdout.print(f"[bold green]studio initialized[/] in {literal(report.home)}")
            for item in report.created:
                stdout.print(f"  created {literal(item)}")
        else:
            stdout.print(f"studio at {literal(report.home)} is already initialized; "
                         "nothing changed")

    emit(data, as_json=as_json, render=render)


def demo(out: Annotated[Path | None, typer.Option("--out", help="Folder for the demo.")] = None,
         statement: Annotated[bool, typer.Option(
             "--statement", help="Add the consent-statement step: a one-time challenge and "
                                 "a statement video checked before the grant is signed.")
         ] = False,
         as_json: JsonOpt = False) -> None:
    """A complete run on bundled media, in a fresh studio home; no arguments needed."""
    from likeness.demo import run_demo
    from likeness.errors import InternalError

    result = run_demo(out or Path("demo-out"), as_json=as_json, statement=statement)
    emit(result, as_json=as_json, render=lambda: stdout.print(
        f"\n[bold green]demo complete[/]: published {literal(result['published'])} and the "
        f"Spanish dub {literal(result['dubbed'])}; studio home {literal(result['home'])}"
        if result["ok"] else "[bold red]demo finished with unexpected results[/]"))
    if not result["ok"]:
        raise InternalError("the demo did not end as expected: " + str(result["verify"]))
