"""One error hierarchy for the whole studio.

This module is a dependency-free leaf (stdlib only) so that every package
(`consent`, `provenance`, `models`, `media`, `flows`) may raise these errors
without importing the CLI. The CLI catches `LikenessError` once, prints
``error: <message>`` (plus the hint) and exits with ``exit_code``.
"""

from __future__ import annotations


class LikenessError(Exception):
    """Base of every error a user can act on; carries the documented exit code."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """The text shown to the user: the message, then what to do about it."""
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class InternalError(LikenessError):
    """A bug or an environment failure we could not classify (exit 1)."""

    exit_code = 1


class BadInput(LikenessError):
    """Malformed, unreadable or out-of-contract input or usage (exit 2)."""

    exit_code = 2


class ConsentDenied(LikenessError):
    """The consent gate said no (exit 3); ``reasons`` lists every reason."""

    exit_code = 3

    def __init__(self, message: str, *, reasons: list[str] | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reasons = list(reasons or [])


class IntegrityFailure(LikenessError):
    """Tampered ledger, invalid signature, failed verification (exit 4)."""

    exit_code = 4


class EnvironmentFailure(LikenessError):
    """The machine, not the data: a read-only home or database, a full disk, a database
    server that cannot be reached (exit 7). Never 4, which says something was tampered."""

    exit_code = 7


class MissingWeights(BadInput):
    """A model file the engine needs is not installed; the message names it."""
