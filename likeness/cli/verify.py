"""`likeness verify` (one file) and `likeness audit` (the whole ledger): the checks
anyone can run on what the studio published."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from likeness.cli.common import JsonOpt, literal, open_studio, visible, write_document
from likeness.errors import BadInput
from likeness.output import emit, stderr, stdout

audit_app = typer.Typer(no_args_is_help=True, help="The tamper-evident ledger.")

STATUS_COLORS = {"intact": "green", "derived": "yellow", "tampered": "red",
                 "unknown": "magenta"}
AUDIT_DETAIL_KEYS = ("performer_id", "grant_id", "render_id", "allowed", "output", "reason")


def verify(file: Annotated[Path, typer.Argument(help="Media file to check.")],
           as_json: JsonOpt = False) -> None:
    """intact (0) | derived (5) | tampered (4) | unknown (6): manifest, watermark, ledger."""
    report = open_studio().verify(file)

    def render() -> None:
        stdout.print(f"[bold {STATUS_COLORS[report.status]}]{report.status}[/]  "
                     f"{literal(file)}")
        if report.render_id:
            stdout.print(f"  render {report.render_id}  performer {report.performer_id}  "
                         f"grants {', '.join(report.grant_ids)}  uses {', '.join(report.uses)}",
                         markup=False)
        if report.rendered_at:
            stdout.print(f"  rendered {report.rendered_at}", markup=False)
        m = report.manifest
        stdout.print(f"  C2PA: {m.get('validation_state') or 'none'}   "
                     f"video watermark: {_wm(report.video_watermark)}   "
                     f"audio watermark: {_wm(report.audio_watermark)}", markup=False)
        if report.ledger:
            stdout.print(f"  ledger entry #{report.ledger['seq']} proven in tree of "
                         f"{report.ledger['tree_size']}")
        _print_chain(report.chain)
        _print_consent(report.consent)
        for r in report.revoked_since:
            stdout.print(f"  [red]revoked since[/]: {literal(r)}")
        for reason in report.reasons:
            stdout.print(f"  - {visible(reason)}", markup=False)

    emit(report.to_dict(), as_json=as_json, render=render)
    if report.status == "tampered":
        stderr.print(f"error: {visible(file)} is tampered: {visible('; '.join(report.reasons))}",
                     markup=False,
                     soft_wrap=True)
    raise typer.Exit(report.exit_code)


def _print_chain(chain: list[dict[str, Any]]) -> None:
    """The file's manifest, then what it was made from, one line each."""
    for depth, link in enumerate(chain):
        role = "this file" if depth == 0 else "made from"
        marks = link.get("source_watermark_ids") or []
        stdout.print(
            f"  {'  ' * depth}{role}: {link.get('title') or '?'}  render "
            f"{link.get('render_id') or '-'}  signed {link.get('signed_at') or '-'} by "
            f"{link.get('signer') or '?'}  [{', '.join(filter(None, link.get('actions', [])))}]"
            + (f"  source marks {', '.join(marks)}" if marks else "")
            + (f"  ingredient failures {', '.join(link['ingredient_failures'])}"
               if link.get("ingredient_failures") else ""), markup=False, soft_wrap=True)


def _print_consent(consent: dict[str, Any]) -> None:
    """The performer's consent as the file itself proves it."""
    for grant in consent.get("grants", []):
        state = "verified from the file" if grant["verified"] else "NOT verified"
        stdout.print(
            f"  consent {grant['grant_id']}: {state}; performer {grant.get('performer_id')} "
            f"key {(grant.get('performer_key_fingerprint') or '?')[:16]}…, signed by "
            f"{', '.join(grant.get('signed_by', [])) or 'nobody'}, withheld "
            f"{', '.join(grant.get('withheld', [])) or 'nothing'}", markup=False,
            soft_wrap=True)
        if grant.get("note"):
            stdout.print(f"    {grant['note']}", markup=False)


def _wm(finding: object) -> str:
    if finding is None:
        return "n/a"
    if getattr(finding, "found", False):
        return f"{finding.render_id} ({finding.confidence:.3f})"  # type: ignore[attr-defined]
    return "none"


@audit_app.command("verify")
def audit_verify(
    export: Annotated[Path | None, typer.Option(
        "--export", help="Verify a JSON-lines export offline instead of the registry.")] = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="Studio public key for --export (default: the one in the file).")]
    = None,
    against: Annotated[list[Path] | None, typer.Option(
        "--against", help="Witness file (.jsonl) or published file whose signed tree head "
                          "the ledger must extend (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every entry, the hash chain, the Merkle tree and the signed tree heads, the
    registry tables against the ledger, and consistency with every witnessed tree head
    (exit 4)."""
    from consent.signing import VerifyKey
    from provenance.ledger.log import read_export, verify_export, verify_ledger
    from provenance.ledger.registry_check import verify_registry
    from provenance.ledger.witness import check_consistency, heads_from_files

    registry = None
    witnessed = 0
    if export is not None:
        if against:
            raise BadInput("--against checks the studio's ledger, not an --export file")
        key = VerifyKey.from_file(public_key) if public_key else None
        report = verify_export(read_export(export), key)
    else:
        studio = open_studio()
        seen = studio.witness.heads() + heads_from_files(against or [])
        with studio.reading() as session:
            report = verify_ledger(session, studio.verify_key)
            witnessed = check_consistency(session, seen, studio.verify_key)
            registry = verify_registry(session, studio.verify_key)
    data = {"status": "intact", "entries": report.entries, "tree_heads": report.tree_heads,
            "root_hash": report.root_hash, "signatures_checked": report.signatures_checked,
            "witnessed_heads_checked": witnessed}
    if registry is not None:
        data["registry"] = {"performers": registry.performers, "grants": registry.grants,
                            "revocations": registry.revocations, "matches_ledger": True}
    tables = (f"; registry matches it ({registry.performers} performers, {registry.grants} "
              f"grants, {registry.revocations} revocations)" if registry else "")
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"[bold green]ledger intact[/]: {report.entries} entries, {report.tree_heads} signed "
        f"tree heads, root {report.root_hash[:16]}…{tables}"))


@audit_app.command("show")
def audit_show(render: Annotated[str | None, typer.Option(
                   "--render", help="Only the entries of this render id (16 hex digits).")] = None,
               limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
               as_json: JsonOpt = False) -> None:
    """Show ledger entries, newest last."""
    from provenance.ledger.log import entries_for_render
    from provenance.ledger.store import recent_entries, row_to_entry

    studio = open_studio()
    rid = None
    if render is not None:
        try:
            rid = int(render, 16)
        except ValueError:
            raise BadInput(f"--render {render!r} is not a hex render id") from None
    with studio.reading() as session:
        found = (recent_entries(session, limit=limit) if rid is None
                 else [row_to_entry(row) for row in entries_for_render(session, rid)])
    entries = [{"seq": e.seq, "kind": e.kind, "at": e.at, "leaf_hash": e.leaf_hash,
                "payload": e.payload} for e in found]

    def render_table() -> None:
        table = Table("seq", "at", "kind", "detail")
        for e in entries:
            detail = ", ".join(f"{k}={v}" for k, v in e["payload"].items()
                               if k in AUDIT_DETAIL_KEYS)
            table.add_row(str(e["seq"]), e["at"].strftime("%Y-%m-%d %H:%M:%S"), e["kind"],
                          literal(detail))
        stdout.print(table)

    emit({"entries": entries}, as_json=as_json, render=render_table)


@audit_app.command("export")
def audit_export(out: Annotated[Path, typer.Option("--out", help="JSON-lines file.")],
                 as_json: JsonOpt = False) -> None:
    """Export the ledger (entries and signed tree heads) for offline verification."""
    from provenance.ledger.log import export_lines

    studio = open_studio()
    with studio.reading() as session:
        lines = list(export_lines(session, studio.verify_key))
    write_document(out, "\n".join(lines) + "\n")
    emit({"file": str(out), "lines": len(lines)}, as_json=as_json,
         render=lambda: stdout.print(f"ledger exported to {literal(out)} "
                                     f"({len(lines) - 1} records)"))
