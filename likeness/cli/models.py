"""`likeness models list|check`: which engines and weight files are installed, under
which licence, and whether each file still matches its pinned SHA-256."""

from __future__ import annotations

import typer
from rich.table import Table

from likeness.cli.common import JsonOpt, load_studio_settings
from likeness.output import emit, stdout

models_app = typer.Typer(no_args_is_help=True, help="Engines and weight files.")


def _models_report(*, verify: bool, as_json: bool) -> None:
    from models.store import check_models, list_models, raise_for_mismatch

    models_dir = load_studio_settings().models_dir
    statuses = check_models(models_dir=models_dir) if verify else list_models(
        models_dir=models_dir)
    data = {"models_dir": str(models_dir), "models": statuses}

    def render() -> None:
        table = Table("engine", "file", "state", "source", "license", "commercial")
        for m in statuses:
            color = {"ok": "green", "installed": "green", "missing": "yellow",
                     "mismatch": "red", "unpinned": "cyan"}.get(m.state, "white")
            table.add_row(m.engine, m.name, f"[{color}]{m.state}[/]", m.source, m.license,
                          "yes" if m.commercial_use else "[red]no[/]")
        stdout.print(table)
        stdout.print(f"user models folder: {models_dir}")

    emit(data, as_json=as_json, render=render)
    if verify:
        raise_for_mismatch(statuses)


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """Every engine's weight files: source, SHA-256, license, commercial use, installed?"""
    _models_report(verify=False, as_json=as_json)


@models_app.command("check")
def models_check(as_json: JsonOpt = False) -> None:
    """Hash every installed weight file against its pin (exit 4 on a mismatch)."""
    _models_report(verify=True, as_json=as_json)
