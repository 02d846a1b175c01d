"""The studio's long-lived Prefect server: start, stop, find and describe it.

Why: without a server every render process starts Prefect's temporary one (12-15 s on
two cores, measured); with one running, a render pays ~3 s of Prefect start-up. The
server is a child process of its own session (``prefect server start`` on 127.0.0.1,
a free port), with its SQLite database and log in the studio's Prefect home and a
small JSON "PID file" beside them naming its PID, port and start time.

Renders find it through `running_server_url` (`flows.prefect_env.offline_prefect`
sets ``PREFECT_API_URL`` for the run only); nothing starts it automatically: a
background daemon appearing after a one-off render would surprise a user and outlive
their shell, and the temporary-server fallback keeps working without it.

The child runs isolated: ``python -I`` (no user site, no ``PYTHONPATH``, no script
folder on ``sys.path``) with the Prefect home as its working folder, so a
``secrets.py`` (or any module) in the folder the user ran ``likeness`` from can never
be imported by the server. Prefect is not imported here: ``likeness server status``
stays fast.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from likeness.errors import BadInput, InternalError

HOST = "127.0.0.1"
STATE_FILE = "server.json"
LOG_FILE = "server.log"
START_TIMEOUT_S = 120.0  # ~15 s to healthy here; a loaded 2-core machine needs headroom
STOP_TIMEOUT_S = 20.0
HEALTH_TIMEOUT_S = 2.0
POLL_S = 0.5
PREFECT_SUBDIR = "prefect"  # the same folder `offline_prefect` uses for the temporary server

# What the child must not inherit: the user's server URL (it *is* the server) and any
# Python path tweak that could import user code.
_DROPPED_ENV = ("PREFECT_API_URL", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME")
_CHILD_ENV_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


@dataclass(frozen=True)
class ServerState:
    """What the PID file records (and `status` reports with ``runs`` and uptime)."""

    pid: int
    port: int
    url: str  # the API URL, as PREFECT_API_URL wants it
    started_at: str  # ISO 8601, UTC
    home: str  # the Prefect home: database and log

    @property
    def ui_url(self) -> str:
        return self.url.removesuffix("/api")

    def uptime_s(self) -> float:
        return max(0.0, (datetime.now(UTC) - datetime.fromisoformat(self.started_at))
                   .total_seconds())


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    home: str
    url: str | None = None
    ui_url: str | None = None
    pid: int | None = None
    uptime_s: float | None = None
    runs: int | None = None  # flow runs the server has recorded
    log: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def server_home(studio_home: Path) -> Path:
    return studio_home / PREFECT_SUBDIR


def _state_path(studio_home: Path) -> Path:
    return server_home(studio_home) / STATE_FILE


def read_state(studio_home: Path) -> ServerState | None:
    """The PID file's contents, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(_state_path(studio_home).read_text(encoding="utf-8"))
        return ServerState(**data)
    except (OSError, ValueError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def healthy(url: str, *, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    import httpx  # Prefect's own HTTP client, installed with it

    try:
        return httpx.get(f"{url}/health", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def running_server_url(studio_home: Path) -> str | None:
    """The API URL of this studio's server when it runs and answers, else None.

    Costs nothing without a PID file (the usual case for one-off renders).
    """
    state = read_state(studio_home)
    if state is None or not _alive(state.pid):
        return None
    return state.url if healthy(state.url) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _child_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    for name, value in _CHILD_ENV_DEFAULTS.items():
        env.setdefault(name, value)
    env["PREFECT_HOME"] = str(home)
    return env


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start(studio_home: Path, *, port: int | None = None,
          timeout_s: float = START_TIMEOUT_S) -> ServerStatus:
    """Start the server (or find the one already running) and wait until it is healthy."""
    current = status(studio_home, count_runs=False)
    if current.running:
        return current
    home = server_home(studio_home)
    home.mkdir(parents=True, exist_ok=True)
    _state_path(studio_home).unlink(missing_ok=True)  # a stale file from a dead server
    port = port or _free_port()
    url = f"http://{HOST}:{port}/api"
    log = home / LOG_FILE
    with open(log, "ab") as log_fh:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-I", "-m", "prefect", "server", "start",
             "--host", HOST, "--port", str(port)],
            cwd=home, env=_child_env(home), stdin=subprocess.DEVNULL, stdout=log_fh,
            stderr=subprocess.STDOUT, start_new_session=True)
    state = ServerState(pid=child.pid, port=port, url=url,
                        started_at=datetime.now(UTC).isoformat(), home=str(home))
    _state_path(studio_home).write_text(json.dumps(asdict(state)), encoding="utf-8")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.poll() is not None:
            _state_path(studio_home).unlink(missing_ok=True)
            raise InternalError(f"the Prefect server exited with code {child.returncode} "
                                f"during start-up; its log ({log}) ends:\n{_log_tail(log)}")
        if healthy(url):
            return status(studio_home, count_runs=False)
        time.sleep(POLL_S)
    _terminate(child.pid)
    _state_path(studio_home).unlink(missing_ok=True)
    raise InternalError(f"the Prefect server did not become healthy within {timeout_s:.0f} s",
                        hint=f"see its log {log}")


def _terminate(pid: int, *, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the server's process group (it runs uvicorn and services), then SIGKILL."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            return
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect the exit status when the server is our own child (a test, `start` then
    `stop` in one process), so it does not linger as a zombie that looks alive."""
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(studio_home: Path) -> ServerStatus:
    """Stop the studio's server; a server that is not running is `BadInput` (exit 2)."""
    state = read_state(studio_home)
    if state is None or not _alive(state.pid):
        _state_path(studio_home).unlink(missing_ok=True)
        raise BadInput("no Prefect server is running for this studio",
                       hint="start one with `likeness server start`")
    _terminate(state.pid)
    _state_path(studio_home).unlink(missing_ok=True)
    return ServerStatus(running=False, home=state.home, pid=state.pid, url=state.url,
                        log=str(Path(state.home) / LOG_FILE))


def count_flow_runs(url: str) -> int | None:
    import httpx

    try:
        response = httpx.post(f"{url}/flow_runs/count", json={}, timeout=HEALTH_TIMEOUT_S)
        response.raise_for_status()
        return int(response.json())
    except (httpx.HTTPError, ValueError):
        return None


def status(studio_home: Path, *, count_runs: bool = True) -> ServerStatus:
    home = server_home(studio_home)
    state = read_state(studio_home)
    if state is None or not _alive(state.pid) or not healthy(state.url):
        return ServerStatus(running=False, home=str(home))
    return ServerStatus(running=True, home=state.home, url=state.url, ui_url=state.ui_url,
                        pid=state.pid, uptime_s=round(state.uptime_s(), 1),
                        runs=count_flow_runs(state.url) if count_runs else None,
                        log=str(Path(state.home) / LOG_FILE))
