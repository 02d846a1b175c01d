"""`likeness verifier`: the public verification service (web page, JSON API and the C2PA
soft-binding resolver), named apart from Prefect's `server` commands."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from likeness.cli.common import literal, open_studio
from likeness.errors import BadInput
from likeness.output import stdout

MEBIBYTE = 1024 * 1024


def verifier(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8765,
    max_upload_mb: Annotated[int, typer.Option(
        "--max-upload-mb", min=1, help="Largest file accepted, in MiB.")] = 512,
    rate_limit: Annotated[int, typer.Option(
        "--rate-limit", min=1, help="Requests per minute per client address.")] = 30,
) -> None:
    """Serve a page and an API where anyone checks a file: intact, derived, tampered, unknown."""
    import uvicorn  # deferred: only the service needs the ASGI server

    from likeness.verifier import VerifierConfig, create_app

    _check_listen(host, port)
    studio = open_studio()
    app = create_app(studio, VerifierConfig(max_upload_bytes=max_upload_mb * MEBIBYTE,
                                            requests_per_minute=rate_limit))
    stdout.print(f"verifier for {literal(studio.settings.studio.studio_name)} on "
                 f"http://{literal(host)}:{port}/  (Ctrl-C stops it)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
    finally:
        studio.close()


def _check_listen(host: str, port: int) -> None:
    """Refuse a busy or foreign address with one `error:` line (uvicorn would log and exit)."""
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
