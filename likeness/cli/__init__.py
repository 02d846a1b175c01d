"""The `likeness` command line (Typer + Rich): one module per command group.

``studio`` (init, demo), ``performer`` (keys, performers), ``consent`` (grants),
``render`` (stamp, dub, reenact, avatar), ``batch`` (job files), ``server`` (the
long-lived Prefect server), ``verify`` (verify, audit), ``verifier`` (the public
verification service) and ``models``; shared
option parsing and output helpers live in ``common``. The commands only parse options
and print: the work is done by `likeness.studio.Studio`, the consent models and the flows.

Errors are caught once, in `main`: a `LikenessError` prints ``error: ...`` and
exits with its documented code; anything else is an internal error (exit 1), with
a traceback only under ``--debug``. Heavy imports (media, models, Prefect) happen
inside the commands that need them so ``--help`` and consent commands stay fast.
"""

from __future__ import annotations

import atexit
import gc
import signal
import sys
import traceback
from contextlib import suppress
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click

from likeness.cli import (
    batch,
    consent,
    deploy,
    models,
    performer,
    render,
    server,
    studio,
    verifier,
    verify,
)
from likeness.cli.common import visible
from likeness.errors import ConsentDenied, LikenessError
from likeness.output import discard_stdout, stderr

app = typer.Typer(name="likeness", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False,
                  help="Consent-gated synthetic media studio.")


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    """``--debug`` is read by `main` before Typer parses; declared here so it is accepted
    and listed in ``--help``."""


# The order here is the order of `likeness --help`.
for command in (studio.init, render.stamp, render.dub, render.reenact, render.avatar,
                batch.batch, verify.verify, verifier.verifier, deploy.deploy, studio.demo):
    app.command()(command)
app.add_typer(performer.keys_app, name="keys")
app.add_typer(performer.performer_app, name="performer")
app.add_typer(consent.consent_app, name="consent")
app.add_typer(models.models_app, name="models")
app.add_typer(verify.audit_app, name="audit")
app.add_typer(server.server_app, name="server")


def _sigterm_as_interrupt() -> None:
    """SIGTERM (a service stop, `kill`) unwinds like Ctrl-C: publish removes its temp files,
    gives the reservation back and logs `render_failed`, instead of dying mid-write."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with suppress(ValueError):  # only the main thread may set handlers
        signal.signal(signal.SIGTERM, interrupt)


def _skip_exit_collections() -> None:
    """At exit, leave the objects still alive out of the interpreter's last collections.

    Why: while Python tears the modules down it runs several full garbage collections;
    after a render (Prefect, pydantic, SciPy and the engines loaded, ~265 000 objects
    tracked) they took 1-2.9 s of wall time on this 2-core machine (perf: all of it in
    ``gc_collect_main``), about a third of a 4 s dub's overhead. ``gc.freeze`` in an
    ``atexit`` hook skips them: it runs after the hooks registered during the command
    and after the thread shutdowns (Prefect's event and log delivery among them);
    frozen objects are still freed by reference counting, only cycles are left for the
    OS to reclaim with the process. Registered from `main` (once, however often it runs
    in one process), so a process that merely imports the CLI keeps its usual exit."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def main(argv: list[str] | None = None) -> None:
    """The console script: run one command and exit with its documented code."""
    args = list(sys.argv[1:] if argv is None else argv)
    _skip_exit_collections()
    debug = "--debug" in args
    _sigterm_as_interrupt()
    try:
        code = app(args=args, standalone_mode=False, prog_name="likeness")
    except LikenessError as exc:
        if debug:
            traceback.print_exc()
        stderr.print(f"error: {visible(exc.diagnostics())}", markup=False, soft_wrap=True)
        if isinstance(exc, ConsentDenied):
            for reason in exc.reasons:
                stderr.print(f"  - {visible(reason)}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        stderr.print("error: aborted", markup=False)
        sys.exit(130)
    except NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else "")
        sys.exit(2)
    except ClickException as exc:
        stderr.print(f"error: {visible(exc.format_message())}", markup=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr.print("error: interrupted", markup=False)
        sys.exit(130)
    except BrokenPipeError:  # the reader went away while a command printed progress
        discard_stdout()
        sys.exit(141)  # 128 + SIGPIPE, as a shell reports a program its pipe closed
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        if debug:
            traceback.print_exc()
        stderr.print(f"error: internal error: {type(exc).__name__}: {visible(exc)}", markup=False,
                     soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
