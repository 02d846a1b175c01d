"""Every engine of every kind, chosen one way: names, specs, licence policy, checked loading.

A backend is one `EngineSpec` in `SPECS` naming the module it lives in, plus one member
of its kind's ``...Name`` Literal (the CLI help, the request models and this registry all
read the names from those Literals). Importing this module imports no engine, so neither
dlib, onnxruntime, torch nor piper load while options are parsed or help is printed.

Choosing happens once, where the options are read: `choose` resolves ``auto`` (or checks
a name against the studio's `EnginePolicy`) and returns a `Choice` that says why; `build`
imports the module, calls its factory and checks the engine against the kind's Protocol,
so a broken backend fails at load, not halfway through a render. `get` does both.

Every engine module honours the same contract (after facefusion's processors):

    WEIGHTS: tuple[WeightFile, ...]      the files it loads (empty for weight-free engines);
                                         the model store and the licence policy read these
    create(*, models_dir, **options)     build the engine; missing files raise MissingWeights
    probe(*, models_dir, policy, **options) -> Availability
                                         optional (``probe=None``): may ``auto`` pick it here?

``options`` are the kind's own: tts ``language``; asr ``model``, ``cache_dir``; lipsync
``footage``, ``performer``, ``cache_dir`` (the footage engine); mt
``source``, ``target``, ``script``; separation ``weights`` (a checkpoint path).
Each engine takes the ones it uses and ignores the rest.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol, get_args

from likeness.errors import BadInput, InternalError
from models.weights import WeightFile

LOG = logging.getLogger(__name__)

Kind = Literal["face", "tts", "lipsync", "reenact", "asr", "mt", "separation"]
AUTO = "auto"

# The one list of names per kind ("auto" first). Order here is the order of help texts;
# the order of `SPECS` is the order "auto" tries them in.
FaceName = Literal["auto", "dlib", "insightface"]
TTSName = Literal["auto", "piper", "kokoro", "espeak-ng", "coqui"]
LipSyncName = Literal["auto", "musetalk", "wav2lip", "footage", "viseme", "none"]
ReenactName = Literal["auto", "landmark"]
ASRName = Literal["auto", "faster-whisper"]
MTName = Literal["auto", "script", "identity", "apertium"]
SeparationName = Literal["auto", "demucs", "none"]

# The opt-in to slow CPU inference for engines that `auto` otherwise picks only with CUDA.
# Read here, in `EnginePolicy.for_studio`, and nowhere else.
CPU_OPT_IN_ENV: Mapping[str, str] = {"wav2lip": "LIKENESS_WAV2LIP_ON_CPU",
                                     "musetalk": "LIKENESS_MUSETALK_ON_CPU"}
_TRUTHY = frozenset({"1", "true", "yes"})


class StudioLicensing(Protocol):
    """The two studio settings (config.toml) the licence policy is made of."""

    @property
    def commercial(self) -> bool: ...

    @property
    def acknowledged_noncommercial(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class EnginePolicy:
    """What this studio lets the registry load.

    A commercial studio refuses weights declared non-commercial unless it acknowledged
    their terms, naming the engine (``wav2lip``) or one file (``wav2lip/wav2lip_gan.pth``).
    `cpu_opt_in` names engines the user accepts running slowly on the CPU. The defaults
    are the strict ones (commercial, nothing acknowledged, no opt-in).
    """

    commercial: bool = True
    acknowledged_noncommercial: frozenset[str] = frozenset()
    cpu_opt_in: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "acknowledged_noncommercial",
                           frozenset(self.acknowledged_noncommercial))
        object.__setattr__(self, "cpu_opt_in", frozenset(self.cpu_opt_in))

    @classmethod
    def for_studio(cls, studio: StudioLicensing, *,
                   environ: Mapping[str, str] | None = None) -> EnginePolicy:
        """The policy of a studio's config, with the CPU opt-ins from the environment."""
        env = os.environ if environ is None else environ
        opted = frozenset(engine for engine, variable in CPU_OPT_IN_ENV.items()
                          if env.get(variable, "").strip().lower() in _TRUTHY)
        return cls(commercial=studio.commercial,
                   acknowledged_noncommercial=frozenset(studio.acknowledged_noncommercial),
                   cpu_opt_in=opted)

    def refusal(self, weights: Iterable[WeightFile]) -> str | None:
        """Why `weights` may not be used in this studio, or None when they may."""
        if not self.commercial:
            return None
        acknowledged = self.acknowledged_noncommercial
        offending = sorted({
            f"{weight.engine}/{weight.name} ({weight.license})"
            for weight in weights
            if not weight.commercial_use and weight.engine not in acknowledged
            and f"{weight.engine}/{weight.name}" not in acknowledged
        })
        if not offending:
            return None
        return "not licensed for commercial use: " + ", ".join(offending)

    def allows_cpu(self, engine: str) -> bool:
        """Whether the user opted in to running `engine` on the CPU (correct but slow)."""
        return engine in self.cpu_opt_in


@dataclass(frozen=True)
class Availability:
    """Whether an engine can run here, and if not, the reason a user can act on."""

    available: bool
    reason: str = ""


@dataclass(frozen=True)
class KindSpec:
    """What every engine of one kind promises: its Protocol and its names."""

    label: str  # as users read it in messages ("lip-sync engine 'x'")
    names: tuple[str, ...]
    protocol: str  # "module:Class", a runtime_checkable Protocol
    check: str | None = None  # "module:function": promises a Protocol cannot state


KINDS: Mapping[Kind, KindSpec] = {
    "face": KindSpec("face", get_args(FaceName), "models.face.base:FaceEngine",
                     check="models.face.base:check_face_engine"),
    "tts": KindSpec("TTS", get_args(TTSName), "models.tts.base:TTSEngine"),
    "lipsync": KindSpec("lip-sync", get_args(LipSyncName), "models.lipsync.base:LipSync"),
    "reenact": KindSpec("reenactment", get_args(ReenactName), "models.reenact.base:Reenactor"),
    "asr": KindSpec("speech recognition", get_args(ASRName), "models.asr.base:Recognizer"),
    "mt": KindSpec("translation", get_args(MTName), "models.mt.base:Translator"),
    "separation": KindSpec("source separation", get_args(SeparationName),
                           "models.separation.base:Separator"),
}


@dataclass(frozen=True)
class EngineSpec:
    """Where one backend lives and how the registry treats it; nothing is imported here."""

    kind: Kind
    name: str
    module: str
    factory: str = "create"
    probe: str | None = "probe"  # None: nothing to check before building (weight-free)
    auto: bool = True  # False: only when asked for by name
    # Non-empty: why this engine's non-commercial weights are not refused (say it here,
    # where a reviewer sees it, not in a flow).
    licence_exemption: str = ""

    def load_module(self) -> ModuleType:
        return importlib.import_module(self.module)

    def weights(self) -> tuple[WeightFile, ...]:
        """The module's `WEIGHTS` (imports the module; torch-free by contract)."""
        declared = getattr(self.load_module(), "WEIGHTS", None)
        if not isinstance(declared, tuple) or not all(
                isinstance(weight, WeightFile) for weight in declared):
            raise InternalError(f"engine module {self.module} must declare WEIGHTS as a tuple "
                                "of WeightFile (empty when it loads none)")
        return declared

    def availability(self, *, models_dir: Path, policy: EnginePolicy,
                     **options: Any) -> Availability:
        """The module's probe answer (`auto` uses it); no probe means weight-free."""
        if self.probe is None:
            return Availability(True, "needs no weights")
        answer = getattr(self.load_module(), self.probe)(models_dir=models_dir, policy=policy,
                                                         **options)
        if not isinstance(answer, Availability):
            raise InternalError(f"{self.module}.{self.probe} must return an Availability")
        return answer


_DLIB_EXEMPTION = (
    "dlib's 68-point predictor is CC0, but it was trained on iBUG 300-W, whose terms exclude "
    "commercial use; it has always been every studio's default face engine, so refusing it "
    "would stop identity binding everywhere. `likeness models list` shows the flag; the "
    "studio decides (see the weight's notes)."
)

SPECS: tuple[EngineSpec, ...] = (
    # face: dlib first (its weights ship with the install); insightface needs a user pack
    EngineSpec("face", "dlib", "models.face.dlib_engine", licence_exemption=_DLIB_EXEMPTION),
    EngineSpec("face", "insightface", "models.face.insightface_engine"),
    # tts, first that speaks the language: piper > kokoro > espeak-ng. coqui never by
    # auto: it needs a consented reference clip and a user checkpoint.
    EngineSpec("tts", "piper", "models.tts.piper_engine"),
    EngineSpec("tts", "kokoro", "models.tts.kokoro_engine"),
    EngineSpec("tts", "espeak-ng", "models.tts.espeak_engine"),
    EngineSpec("tts", "coqui", "models.tts.coqui_engine", auto=False),
    # lipsync: musetalk, then wav2lip, each only with its weights and CUDA (or the CPU
    # opt-in), wav2lip also only under an acceptable licence; then footage when the
    # request hands over usable footage of the performer; else viseme. none (mouth
    # untouched) only by name.
    EngineSpec("lipsync", "musetalk", "models.lipsync.musetalk"),
    EngineSpec("lipsync", "wav2lip", "models.lipsync.wav2lip"),
    EngineSpec("lipsync", "footage", "models.lipsync.footage.engine"),
    EngineSpec("lipsync", "viseme", "models.lipsync.viseme", probe=None),
    EngineSpec("lipsync", "none", "models.lipsync.passthrough", probe=None, auto=False),
    EngineSpec("reenact", "landmark", "models.reenact.landmark", probe=None),
    EngineSpec("asr", "faster-whisper", "models.asr.whisper_engine"),
    # mt: a human script wins; the same language needs no translator; else apertium
    EngineSpec("mt", "script", "models.mt.script_engine"),
    EngineSpec("mt", "identity", "models.mt.identity_engine"),
    EngineSpec("mt", "apertium", "models.mt.apertium_engine"),
    # separation: demucs with a user checkpoint; else none (the dialogue removed in time)
    EngineSpec("separation", "demucs", "models.separation.demucs_engine"),
    EngineSpec("separation", "none", "models.separation.none_engine", probe=None),
)


@dataclass(frozen=True)
class Choice:
    """Which engine a request resolved to, why, and what `build` needs to make it."""

    kind: Kind
    name: str
    asked: str  # "auto" or the name the user gave
    reason: str
    models_dir: Path
    options: tuple[tuple[str, Any], ...] = ()
    skipped: tuple[str, ...] = ()  # "auto" candidates passed over, each with its reason

    @property
    def label(self) -> str:
        """``lipsync:viseme``: how results and the C2PA manifest name the engine."""
        return f"{self.kind}:{self.name}"

    def describe(self) -> str:
        """One line for ``--debug`` and results: what was picked and why."""
        if self.asked != AUTO:
            return f"{self.label} (asked for by name)"
        return f"{self.label} (auto: " + "; ".join(
            (*self.skipped, f"{self.name}: {self.reason}")) + ")"


@dataclass(frozen=True)
class EngineStatus:
    """One backend's standing here (what ``models list`` and tests report)."""

    kind: Kind
    name: str
    auto: bool
    available: bool
    reason: str


# -- lookups -------------------------------------------------------------------------------


def kind_spec(kind: Kind) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise InternalError(f"unknown engine kind {kind!r}; kinds: {', '.join(KINDS)}") from None


def names(kind: Kind) -> tuple[str, ...]:
    """Every name a user may give for `kind`, ``auto`` first (from the kind's Literal)."""
    return kind_spec(kind).names


def specs(kind: Kind) -> tuple[EngineSpec, ...]:
    """The kind's backends, in the order ``auto`` tries them."""
    kind_spec(kind)
    return tuple(spec for spec in SPECS if spec.kind == kind)


def spec_for(kind: Kind, name: str) -> EngineSpec:
    for spec in specs(kind):
        if spec.name == name:
            return spec
    raise InternalError(f"{kind_spec(kind).label} engine {name!r} is named but not registered")


def _check_name(kind: Kind, name: str) -> KindSpec:
    kind_info = kind_spec(kind)
    if name not in kind_info.names:
        raise BadInput(f"unknown {kind_info.label} engine {name!r}",
                       hint=f"choose one of: {', '.join(kind_info.names)}")
    return kind_info


def _refusal(spec: EngineSpec, policy: EnginePolicy) -> str | None:
    if spec.licence_exemption:
        return None
    return policy.refusal(spec.weights())


def _standing(spec: EngineSpec, *, models_dir: Path, policy: EnginePolicy,
              options: Mapping[str, Any]) -> Availability:
    """Whether `spec` could serve here: the licence policy first, then its probe."""
    try:
        refusal = _refusal(spec, policy)
        if refusal is not None:
            return Availability(False, f"{refusal} (not acknowledged in config.toml)")
        return spec.availability(models_dir=models_dir, policy=policy, **options)
    except ImportError as exc:
        return Availability(False, f"cannot load: {exc}")


def _context(options: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{key}={value!r}" for key, value in options.items()
                      if value is not None and not isinstance(value, Path))
    return f" for {shown}" if shown else ""


# -- choosing and building -----------------------------------------------------------------


def choose(kind: Kind, name: str = AUTO, *, models_dir: Path, policy: EnginePolicy,
           **options: Any) -> Choice:
    """Resolve `name` (``auto`` included) for `kind` without building anything.

    A name is checked against the licence policy only: the factory then says precisely
    what is missing. ``auto`` takes the first backend in `SPECS` order that the policy
    allows and whose probe says it can serve these `options`; the others are recorded
    in `Choice.skipped` with their reasons.
    """
    kind_info = _check_name(kind, name)
    frozen = tuple(sorted(options.items()))
    if name != AUTO:
        spec = spec_for(kind, name)
        try:
            refusal = _refusal(spec, policy)
        except ImportError as exc:
            raise BadInput(f"the {kind_info.label} engine {name!r} cannot load: {exc}") from None
        if refusal is not None:
            raise BadInput(
                f"{kind_info.label} engine {name!r}: its weights are {refusal}",
                hint=f"use another {kind_info.label} engine (or auto), or, once the studio has "
                     f"accepted its terms, add {name!r} to acknowledged_noncommercial in "
                     "config.toml")
        return Choice(kind=kind, name=name, asked=name, reason="asked for by name",
                      models_dir=models_dir, options=frozen)
    skipped: list[str] = []
    for spec in specs(kind):
        if not spec.auto:
            continue
        status = _standing(spec, models_dir=models_dir, policy=policy, options=options)
        if not status.available:
            skipped.append(f"{spec.name}: {status.reason}")
            continue
        return Choice(kind=kind, name=spec.name, asked=AUTO, reason=status.reason,
                      models_dir=models_dir, options=frozen, skipped=tuple(skipped))
    raise BadInput(f"no {kind_info.label} engine is available{_context(options)}",
                   hint="; ".join(skipped) or None)


def build(choice: Choice) -> Any:
    """Import the chosen module, call its factory, and check the engine it returns."""
    spec = spec_for(choice.kind, choice.name)
    label = kind_spec(choice.kind).label
    try:
        module = spec.load_module()
    except ImportError as exc:
        raise BadInput(f"the {label} engine {choice.name!r} cannot load: {exc}") from None
    factory = getattr(module, spec.factory, None)
    if not callable(factory):
        raise InternalError(f"{spec.module} has no factory {spec.factory}()")
    engine = factory(models_dir=choice.models_dir, **dict(choice.options))
    LOG.debug("engine %s", choice.describe())
    return check(choice.kind, engine, expected_name=choice.name)


def check(kind: Kind, engine: object, *, expected_name: str) -> Any:
    """Refuse an engine that does not honour its kind's Protocol (and name)."""
    kind_info = kind_spec(kind)
    protocol = _resolve(kind_info.protocol)
    label = f"{kind_info.label} engine {expected_name!r}"
    if not isinstance(engine, protocol):
        missing = sorted(member for member in _protocol_members(protocol)
                         if not hasattr(engine, member))
        raise InternalError(f"{label} does not implement {protocol.__name__} "
                            f"(missing: {', '.join(missing) or 'unknown'})")
    reported = getattr(engine, "name", None)
    if reported != expected_name:
        raise InternalError(f"{label} reports name {reported!r}")
    if kind_info.check is not None:
        _resolve(kind_info.check)(engine)
    return engine


def get(kind: Kind, name: str = AUTO, *, models_dir: Path, policy: EnginePolicy,
        **options: Any) -> Any:
    """`choose` then `build`: the engine of `kind` called `name` (or the best one).

    What comes back honours the kind's Protocol (`KINDS`): `FaceEngine`, `TTSEngine`,
    `LipSync`, `Reenactor`, `Recognizer` or `Translator`."""
    return build(choose(kind, name, models_dir=models_dir, policy=policy, **options))


def statuses(kind: Kind, *, models_dir: Path, policy: EnginePolicy,
             **options: Any) -> tuple[EngineStatus, ...]:
    """Every backend of `kind` with whether it could serve these `options` here, and why."""
    found: list[EngineStatus] = []
    for spec in specs(kind):
        status = _standing(spec, models_dir=models_dir, policy=policy, options=options)
        found.append(EngineStatus(kind=kind, name=spec.name, auto=spec.auto,
                                  available=status.available, reason=status.reason))
    return tuple(found)


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _protocol_members(protocol: type) -> set[str]:
    members: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (object, Protocol) or klass.__module__ == "typing":
            continue
        members.update(name for name in (*vars(klass), *getattr(klass, "__annotations__", {}))
                       if not name.startswith("_"))
    return members
