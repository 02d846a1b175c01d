"""`likeness keys` and `likeness performer`: the people whose likeness is licensed, and
the key pairs they (or their guardians) sign grants with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from likeness.cli.common import JsonOpt, literal, open_studio, parse_when
from likeness.errors import BadInput
from likeness.output import emit, stdout

keys_app = typer.Typer(no_args_is_help=True, help="Ed25519 key pairs for performers and guardians.")
performer_app = typer.Typer(no_args_is_help=True, help="Performers and their reference faces.")


@keys_app.command("new")
def keys_new(out: Annotated[Path, typer.Option("--out", help="Private key file (0600).")],
             as_json: JsonOpt = False) -> None:
    """Create an Ed25519 key pair: FILE (private, 0600) and FILE.pub."""
    from consent.signing import SigningKey

    pub = out.with_name(out.name + ".pub")
    if pub.exists():
        raise BadInput(f"{pub} already exists; refusing to overwrite a key")
    key = SigningKey.generate()
    key.write(out)
    data = {"private_key": str(out), "public_key": str(pub), "key_id": key.verify_key.key_id}
    emit(data, as_json=as_json, render=lambda: stdout.print(
        f"key pair written: {literal(out)} (private, 0600) and {literal(pub)}\n"
        f"key id {key.verify_key.key_id}"))


@performer_app.command("add")
def performer_add(
    performer_id: Annotated[str, typer.Option("--id", help="Short id, e.g. 'ava'.")],
    name: Annotated[str, typer.Option("--name")],
    face: Annotated[list[Path], typer.Option("--face", help="Reference image (one face).")],
    public_key: Annotated[Path, typer.Option("--public-key", help="Performer's FILE.pub.")],
    voice: Annotated[Path | None, typer.Option("--voice", help="Reference voice WAV.")] = None,
    date_of_birth: Annotated[str | None, typer.Option(
        "--date-of-birth", help="YYYY-MM-DD; minors need a guardian.")] = None,
    guardian_key: Annotated[Path | None, typer.Option(
        "--guardian-key", help="Guardian's FILE.pub (required for minors).")] = None,
    look_alike_of: Annotated[list[str] | None, typer.Option(
        "--look-alike-of", help="A registered performer this different person looks like "
                                "(the override is logged).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a performer with reference face embeddings and a public key."""
    from consent.signing import VerifyKey

    pub = VerifyKey.from_file(public_key)
    guardian = VerifyKey.from_file(guardian_key) if guardian_key else None
    dob = parse_when(date_of_birth, field="--date-of-birth").date() if date_of_birth else None
    performer = open_studio().add_performer(
        performer_id=performer_id, name=name, public_key=pub, face_images=face, voice=voice,
        date_of_birth=dob, guardian_key=guardian, look_alike_of=look_alike_of or [])
    emit(performer, as_json=as_json, render=lambda: stdout.print(
        f"performer [bold]{literal(performer_id)}[/] added with {performer.face_count} "
        "reference face(s)"))


@performer_app.command("list")
def performer_list(as_json: JsonOpt = False) -> None:
    """List registered performers."""
    performers = open_studio().performers()

    def render() -> None:
        table = Table("id", "name", "faces", "voice", "minor until", "key id")
        for p in performers:
            adult = p.adult_on()
            minor = adult.date().isoformat() if adult and adult > datetime.now(UTC) else ""
            table.add_row(literal(p.performer_id), literal(p.name), str(p.face_count),
                          "yes" if p.has_voice else "", minor, p.public_key_id[:16] + "…")
        stdout.print(table)

    emit({"performers": performers}, as_json=as_json, render=render)
