"""Studio settings: environment (``LIKENESS_*``) over ``config.toml`` in the studio home.

``LIKENESS_HOME`` (default ``~/.likeness``) holds config.toml, keys, the registry
database and the ledger; ``LIKENESS_DATABASE_URL`` overrides the registry URL.
"""

from __future__ import annotations

import os
import string
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from consent.identity import SANE_THRESHOLD_RANGES, default_threshold
from likeness.errors import BadInput
from provenance.c2pa.assertions import DEFAULT_NAMESPACE, check_namespace

CONFIG_FILE = "config.toml"


class LabelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = "AI-generated · {studio}"
    position: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = "bottom-right"

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        """Checked when the config is read, not when a render has already taken a render
        from the budget: ``{studio}`` is the one placeholder, and an empty label would be a
        manifest claiming a visible label that is not there."""
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value)
                      if name is not None}
        except ValueError as exc:
            raise ValueError(f"label text {value!r} is not a valid template: {exc}") from None
        unknown = sorted(fields - {"studio"})
        if unknown:
            raise ValueError(f"label text {value!r}: unknown placeholder {{{unknown[0]}}} "
                             "(only {studio} is known)")
        if not value.format(studio="x").strip():
            raise ValueError("label text is empty; set visible_label = false to publish "
                             "without a label")
        return value


class StudioConfig(BaseModel):
    """What config.toml in the studio home may say."""

    model_config = ConfigDict(extra="forbid")
    studio_name: str = "Likeness Studio"
    commercial: bool = True
    visible_label: bool = True
    label: LabelConfig = Field(default_factory=LabelConfig)
    face_engine: str = "dlib"
    identity_threshold: float = Field(default_factory=lambda data: default_threshold(
        str(data["face_engine"])))  # unset: the face engine's documented default
    acknowledged_noncommercial: list[str] = Field(default_factory=list)
    require_consent_evidence: bool = False  # grants need a verified statement video
    # more copies of the witness file (signed tree heads), ideally on another machine
    witness_mirrors: list[Path] = Field(default_factory=list)
    # ... and http(s) URLs each new head is sent to (POST appends, PUT keeps the latest)
    witness_mirror_urls: list[Annotated[str, Field(pattern=r"^https?://\S+$")]] = Field(
        default_factory=list)
    witness_mirror_method: Literal["POST", "PUT"] = "POST"
    models_dir: Path | None = None
    # C2PA: the reverse domain the studio's own assertion labels live under, an RFC 3161
    # time-stamp authority (none: signatures carry no time-stamp), and that TSA's root
    # certificate (PEM) for `verify` to report the time-stamp as trusted.
    assertion_namespace: Annotated[str, AfterValidator(check_namespace)] = DEFAULT_NAMESPACE
    tsa_url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    tsa_trust_anchor: Path | None = None

    @model_validator(mode="after")
    def _threshold_in_range(self) -> StudioConfig:
        """Each engine's threshold has its own metric and range (docs/identity-threshold.md);
        one outside the range is refused (1.5 would call anyone the performer)."""
        low, high = SANE_THRESHOLD_RANGES.get(self.face_engine, (0.0, float("inf")))
        if not low <= self.identity_threshold <= high:
            raise ValueError(f"identity_threshold {self.identity_threshold} is outside the "
                             f"range {low}-{high} documented for the {self.face_engine} face "
                             "engine (docs/identity-threshold.md)")
        return self


class EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_", extra="ignore")
    home: Path = Field(default_factory=lambda: Path("~/.likeness").expanduser())
    database_url: str | None = None
    models_dir: Path | None = None


class Settings(BaseModel):
    """The resolved settings every command works with."""

    model_config = ConfigDict(frozen=True)
    home: Path
    database_url: str
    models_dir: Path
    studio: StudioConfig

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILE

    @property
    def cache_dir(self) -> Path:
        """Derived files (re-assembled split weights): in the home, never next to packages."""
        return self.home / "cache"


def read_config(path: Path) -> StudioConfig:
    if not path.exists():
        return StudioConfig()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        return StudioConfig.model_validate(data)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise BadInput(f"{path}: {loc}: {first['msg']}") from None


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env_settings = EnvSettings(_env_file=None) if env is None else EnvSettings(
        **{k.removeprefix("LIKENESS_").lower(): v for k, v in env.items()
           if k.startswith("LIKENESS_")})
    home = Path(os.path.expanduser(env_settings.home)).absolute()
    studio = read_config(home / CONFIG_FILE)
    url = env_settings.database_url or f"sqlite:///{home / 'registry.db'}"
    models_dir = env_settings.models_dir or studio.models_dir or home / "models"
    return Settings(home=home, database_url=url, models_dir=models_dir, studio=studio)
