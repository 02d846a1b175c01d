"""The job file of `likeness batch` and the watch folder: YAML, validated as a whole.

Why the whole file is checked first: a batch that fails on job 7 of 10 after an hour of
rendering wastes the hour, so every bad job is reported (with its line in the file and
the field) before anything renders. Keys mirror the CLI options (dashes become
underscores); relative paths are relative to the job file, not to where the command
ran, so a job file and its media can move together. The choices (``kind``, ``lipsync``,
``use``) come from the kinds the batch runs, the engine registry's name Literals and the
consent uses, so a new engine is accepted here the moment it is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from consent.codes import normalize_language
from consent.models import Use
from likeness.errors import BadInput
from media.cue_timing import FitMode
from models.registry import LipSyncName

if TYPE_CHECKING:
    from flows.prefect_env import RunLabels

JobKind = Literal["dub", "avatar", "reenact", "stamp"]
JOB_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # a flow-run and file-name safe id
MAX_JOBS = 1000


def _relative_to_job_file(value: Path | None, info: ValidationInfo) -> Path | None:
    if value is None:
        return None
    base = (info.context or {}).get("base")
    value = value.expanduser()
    return value if value.is_absolute() or base is None else Path(base) / value


def _existing(value: Path | None, info: ValidationInfo) -> Path | None:
    path = _relative_to_job_file(value, info)
    if path is not None and not path.is_file():
        raise ValueError(f"no such file {path}")
    return path


def _destination(value: Path, info: ValidationInfo) -> Path:
    path = _relative_to_job_file(value, info)
    assert path is not None
    if path.suffix.lower() != ".mp4":
        raise ValueError(f"output {path} must be an .mp4 file")
    if not path.parent.is_dir():
        raise ValueError(f"output folder {path.parent} does not exist")
    return path.absolute()


class _Job(BaseModel):
    """What every job has: its name (the flow run's name), whose likeness, and where to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=JOB_NAME_PATTERN)
    performer: str = Field(min_length=1)
    out: Path
    production: str | None = None

    _out = field_validator("out")(_destination)

    def run_labels(self) -> RunLabels:
        """The flow run's name (the job's) and tags (filterable in the Prefect UI)."""
        from flows.prefect_env import run_labels

        return run_labels(self.name, performer=self.performer, uses=self.uses(),
                          language=getattr(self, "language", None),
                          production=self.production, kind=self.kind)  # type: ignore[attr-defined]

    def uses(self) -> tuple[str, ...]:
        return ()

    def inputs(self) -> dict[str, Path]:
        """The files the output is made from (their SHA-256 decide whether a re-run skips)."""
        return {}


class DubJob(_Job):
    kind: Literal["dub"]
    input: Path
    language: str
    script: Path | None = None
    voice: str | None = None
    lipsync: LipSyncName = "auto"
    fit: FitMode = "speech"  # as `likeness dub --fit`
    subtitles: bool = False  # also write the new lines, timed to the new speech, as OUT.srt
    review: bool = False  # as `likeness dub --review`: write the lines (OUT.srt) and stop

    _files = field_validator("input", "script")(_existing)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalize_language(value)

    def uses(self) -> tuple[str, ...]:
        return (Use.DUBBING,) if self.lipsync == "none" else (Use.DUBBING, Use.LIP_SYNC)

    def inputs(self) -> dict[str, Path]:
        return {k: v for k, v in (("input", self.input), ("script", self.script)) if v}


class AvatarJob(_Job):
    kind: Literal["avatar"]
    language: str
    text: str | None = Field(default=None, min_length=1)
    script: Path | None = None
    still: Path | None = None  # the likeness, when not the performer's registered reel
    background: Path | None = None
    voice: str | None = None
    lipsync: LipSyncName = "auto"
    subtitles: bool = False  # also write the lines as OUT.srt

    _files = field_validator("script", "still", "background")(_existing)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return normalize_language(value)

    @model_validator(mode="after")
    def _one_source(self) -> AvatarJob:
        if (self.text is None) == (self.script is None):
            raise ValueError("an avatar job needs exactly one of text and script")
        return self

    def uses(self) -> tuple[str, ...]:
        return (Use.AVATAR,)

    def inputs(self) -> dict[str, Path]:
        return {k: v for k, v in (("script", self.script), ("still", self.still),
                                  ("background", self.background)) if v}


class ReenactJob(_Job):
    kind: Literal["reenact"]
    input: Path  # the target: the performer's video or image
    driver: Path

    _files = field_validator("input", "driver")(_existing)

    def uses(self) -> tuple[str, ...]:
        return (Use.REENACTMENT,)

    def inputs(self) -> dict[str, Path]:
        return {"input": self.input, "driver": self.driver}


class StampJob(_Job):
    kind: Literal["stamp"]
    input: Path
    use: list[Use] = Field(min_length=1)
    language: str | None = None

    _files = field_validator("input")(_existing)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return None if value is None else normalize_language(value)

    def uses(self) -> tuple[str, ...]:
        return tuple(u.value for u in self.use)

    def inputs(self) -> dict[str, Path]:
        return {"input": self.input}


Job = Annotated[DubJob | AvatarJob | ReenactJob | StampJob, Field(discriminator="kind")]
_JOB = TypeAdapter(Job)


class JobFile(BaseModel):
    """A validated job file: the batch flow's parameter (JSON-friendly for Prefect)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class _Located:
    """A YAML node's line (1-based) and, for a mapping, the line of each key."""

    line: int
    keys: dict[str, int]


class BadJobFile(BadInput):
    """Every problem of a job file at once, one per line (exit 2)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        shown = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s), nothing was rendered\n{shown}")
        self.problems = problems


def _locate_jobs(text: str) -> list[_Located]:
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    found: list[_Located] = []
    if not isinstance(root, yaml.MappingNode):
        return found
    for key, value in root.value:
        if key.value == "jobs" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                keys = ({k.value: k.start_mark.line + 1 for k, _ in item.value}
                        if isinstance(item, yaml.MappingNode) else {})
                found.append(_Located(item.start_mark.line + 1, keys))
    return found


def _problem(located: _Located | None, index: int, name: object, err: dict[str, Any]) -> str:
    loc = [str(p) for p in err["loc"]]
    if loc and loc[0] in get_args(JobKind):
        loc = loc[1:]  # the tagged union names the member first
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = ["kind"]
    field = loc[0] if loc else "job"
    keys = located.keys if located else {}
    line = keys.get(field, located.line if located else 0)
    label = f"job {index + 1}" + (f" ({name})" if isinstance(name, str) else "")
    message = err["msg"].removeprefix("Value error, ")
    return f"line {line}: {label} {'.'.join(loc) or 'job'}: {message}"


def load_job_file(path: Path, *, base: Path | None = None) -> JobFile:
    """Read and validate a job file; any problem is `BadJobFile` listing all of them.

    Relative paths are relative to ``base`` (default: the job file's folder; the watch
    folder passes the folder the file was dropped into after moving it).
    """
    import yaml

    path = path.absolute()
    base = (base or path.parent).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read job file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
        located = _locate_jobs(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise BadJobFile(path, [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
                         ) from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise BadJobFile(path, ["line 1: the file must be a mapping with a `jobs:` list"])
    if extra := sorted(set(data) - {"jobs"}):
        raise BadJobFile(path, [f"line 1: unknown top-level key(s) {', '.join(extra)}"])
    raw_jobs: list[Any] = data["jobs"]
    if not raw_jobs or len(raw_jobs) > MAX_JOBS:
        raise BadJobFile(path, [f"line 1: `jobs:` needs 1 to {MAX_JOBS} jobs"])
    problems: list[str] = []
    jobs: list[DubJob | AvatarJob | ReenactJob | StampJob] = []
    for index, raw in enumerate(raw_jobs):
        where = located[index] if index < len(located) else None
        name = raw.get("name") if isinstance(raw, dict) else None
        try:
            jobs.append(_JOB.validate_python(raw, context={"base": base}))
        except ValidationError as exc:
            problems.extend(_problem(where, index, name, e) for e in exc.errors())
    problems.extend(_duplicates(raw_jobs, located, base))
    if problems:
        raise BadJobFile(path, problems)
    return JobFile(path=path, jobs=tuple(jobs))


def _duplicates(raw_jobs: list[Any], located: list[_Located], base: Path) -> list[str]:
    """Two jobs with one name (one flow-run name) or one output would overwrite each other
    (checked on the raw entries, so a job with another problem still counts)."""
    seen_names: dict[str, int] = {}
    seen_outs: dict[Path, int] = {}
    problems: list[str] = []
    for index, raw in enumerate(raw_jobs):
        if not isinstance(raw, dict):
            continue
        where = located[index] if index < len(located) else _Located(0, {})
        label = f"job {index + 1}" + (f" ({raw['name']})" if isinstance(raw.get("name"), str)
                                      else "")
        name, out = raw.get("name"), raw.get("out")
        if isinstance(name, str):
            if name in seen_names:
                problems.append(f"line {where.keys.get('name', where.line)}: {label} name: "
                                f"used by job {seen_names[name] + 1}")
            seen_names.setdefault(name, index)
        if isinstance(out, str):
            path = (base / Path(out).expanduser()).absolute()
            if path in seen_outs:
                problems.append(f"line {where.keys.get('out', where.line)}: {label} out: "
                                f"also the output of job {seen_outs[path] + 1}")
            seen_outs.setdefault(path, index)
    return problems


def single_job(options: dict[str, Any], *, base: Path) -> JobFile:
    """One job given as options (a deployment's parameters), validated like a file's."""
    try:
        job = _JOB.validate_python(options, context={"base": base})
    except ValidationError as exc:
        raise BadJobFile(base, [_problem(None, 0, options.get("name"), e)
                                for e in exc.errors()]) from None
    return JobFile(path=base / f"{job.name}.yaml", jobs=(job,))
