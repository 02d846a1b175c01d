"""The studio: the composition root that ties settings, keys, registry, gate and ledger.

Commands and flows talk to a `Studio`; it owns the one database engine of the
process and hands out transactions in which a registry change and its ledger
entry commit together.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from consent.enrolment import check_enrolment
from consent.gate import GatePolicy, authorize
from consent.grants import (
    check_given_to,
    check_term_limits,
    countersign,
    verify_person_signatures,
)
from consent.models import (
    Decision,
    Performer,
    RenderRequest,
    Revocation,
    SignedGrant,
    check_identifier,
    check_plain_text,
)
from consent.registry import FaceRow, PerformerRow, Registry, embedding_to_bytes
from consent.signing import SigningKey, VerifyKey, write_secret
from consent.trust import PerformerFacts, TrustedPerformer, seal_performer, trusted_performer
from flows.context import ReelRef, RenderContext, RenderSettings
from likeness.db import (
    database_error,
    make_engine,
    migrate,
    read_only,
    schema_is_current,
    transaction,
)
from likeness.errors import BadInput, IntegrityFailure
from likeness.settings import Settings
from models.registry import EnginePolicy
from provenance.ledger.log import sign_tree_head
from provenance.ledger.store import Ledger
from provenance.ledger.witness import WITNESS_FILE, Witness

if TYPE_CHECKING:
    from consent.erasure import Erasure
    from provenance.verify import VerifyReport

STUDIO_KEY_FILE = "keys/studio_ed25519.pem"
WATERMARK_KEY_FILE = "keys/watermark.key"
C2PA_DIR = "c2pa"
PERFORMERS_DIR = "performers"  # per-performer derived files, erased with the performer
WATERMARK_KEY_BYTES = 32
HOME_MODE = 0o700
DATABASE_MODE = 0o600


@dataclass(frozen=True)
class InitReport:
    home: Path
    created: tuple[str, ...]
    database_url: str


@dataclass(frozen=True)
class FaceReference:
    engine: str
    embedding: np.ndarray
    image_sha256: str


def redact_url(url: str) -> str:
    """Never print a database password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def init_studio(settings: Settings, *, studio_name: str | None) -> InitReport:
    """Create what is missing in the studio home; a second run changes nothing."""
    created: list[str] = []
    home = settings.home
    try:
        home.mkdir(mode=HOME_MODE, parents=True, exist_ok=True)
        _restrict(home, HOME_MODE)  # it holds face embeddings and keys: owner only
        (home / "keys").mkdir(mode=0o700, exist_ok=True)
        probe = home / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"cannot use studio home {home}: {exc.strerror or exc}",
                       hint="set LIKENESS_HOME to a writable directory") from None
    if not settings.config_path.exists():
        name = studio_name or "Likeness Studio"
        settings.config_path.write_text(
            f'studio_name = "{_toml_escape(name)}"\ncommercial = true\nvisible_label = true\n',
            encoding="utf-8")
        created.append(str(settings.config_path))
    elif studio_name and studio_name != settings.studio.studio_name:
        raise BadInput(f"studio already initialized as {settings.studio.studio_name!r}",
                       hint=f"edit {settings.config_path} to rename it")
    key_path = home / STUDIO_KEY_FILE
    if not key_path.exists():
        SigningKey.generate().write(key_path)
        created.append(str(key_path))
    wm_path = home / WATERMARK_KEY_FILE
    if not wm_path.exists():
        import secrets

        write_secret(wm_path, secrets.token_bytes(WATERMARK_KEY_BYTES))
        created.append(str(wm_path))
    created.extend(_ensure_c2pa_chain(home / C2PA_DIR, studio_name or settings.studio.studio_name))
    _private_sqlite_file(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        if not schema_is_current(engine):
            migrate(engine)
            created.append(f"registry database {redact_url(settings.database_url)}")
    except OperationalError as exc:
        raise database_error(exc) from None
    finally:
        engine.dispose()
    studio = Studio(settings)
    try:
        sealed = studio.seal_unsealed_performers()
    finally:
        studio.close()
    created.extend(f"studio seal on performer {pid}" for pid in sealed)
    return InitReport(home=home, created=tuple(created), database_url=settings.database_url)


def _restrict(path: Path, mode: int) -> None:
    """Tighten an existing file or folder we own; someone else's is left as it is."""
    with suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) != mode:
            os.chmod(path, mode)


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite registry as 0600 before SQLite does (its default is 0644 less
    the umask), and tighten an older one: it holds performers' face embeddings. SQLite
    gives its -wal and -shm files the database file's mode."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return
    db = Path(url.removeprefix(prefix))
    if not db.parent.is_dir():
        return
    with suppress(OSError):
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, DATABASE_MODE))
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if path.exists():
            _restrict(path, DATABASE_MODE)


def _ensure_c2pa_chain(directory: Path, studio_name: str) -> list[str]:
    """The C2PA certificate chain (root -> intermediate -> leaf), created once."""
    try:
        from provenance.c2pa.certs import ensure_chain
    except ImportError:  # provenance not installed in this build
        return []
    before = directory.exists() and any(directory.iterdir())
    ensure_chain(directory, studio_name=studio_name)
    return [] if before else [str(directory)]


def _toml_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class Studio:
    """An initialized studio home opened for work."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        key_path = settings.home / STUDIO_KEY_FILE
        if not key_path.exists():
            raise BadInput(f"no studio at {settings.home}",
                           hint="run `likeness init` (or set LIKENESS_HOME)")
        self._key_path = key_path
        self.engine = make_engine(settings.database_url)
        try:
            current = schema_is_current(read_only(self.engine))
        except DBAPIError as exc:  # unreachable server, read-only or corrupt file
            raise database_error(exc) from None
        except Exception as exc:  # noqa: BLE001 - a driver error outside DBAPIError
            raise IntegrityFailure(f"registry database is unreadable: {exc}") from None
        if not current:
            raise BadInput("registry database schema is not current",
                           hint="run `likeness init` to migrate it")
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(read_only(self.engine), expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @cached_property
    def signing_key(self) -> SigningKey:
        return SigningKey.from_file(self._key_path)

    @property
    def verify_key(self) -> VerifyKey:
        return self.signing_key.verify_key

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.signing_key, witness=self.witness)

    @cached_property
    def witness(self) -> Witness:
        return Witness(self.settings.home / WITNESS_FILE,
                       mirrors=self.settings.studio.witness_mirrors,
                       urls=self.settings.studio.witness_mirror_urls,
                       method=self.settings.studio.witness_mirror_method)

    @contextmanager
    def _checkpointed(self) -> Iterator[Session]:
        """A transaction that ends with a signed tree head, witnessed once committed: a
        registry change (performer, grant, revocation) is then covered by a head others
        hold, so deleting it shows even with the heads table emptied."""
        with self.session() as session:
            yield session
            head = sign_tree_head(session, self.signing_key)
        self.ledger.witness_head(head)

    @property
    def watermark_key(self) -> bytes:
        return (self.settings.home / WATERMARK_KEY_FILE).read_bytes()

    @property
    def c2pa_dir(self) -> Path:
        return self.settings.home / C2PA_DIR

    @property
    def policy(self) -> GatePolicy:
        s = self.settings.studio
        return GatePolicy(studio_key=self.verify_key, identity_threshold=s.identity_threshold,
                          face_engine=s.face_engine,
                          require_consent_evidence=s.require_consent_evidence)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with transaction(self._sessions) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A transaction that only reads: it works on a read-only home or database."""
        with transaction(self._read_sessions) as session:
            yield session

    # performers -------------------------------------------------------------
    def add_performer(self, *, performer_id: str, name: str, public_key: VerifyKey,
                      face_images: Sequence[Path], voice: Path | None = None,
                      date_of_birth: date | None = None,
                      guardian_key: VerifyKey | None = None,
                      look_alike_of: Sequence[str] = ()) -> Performer:
        """Enrol a performer: every reference image must show exactly one face, whose
        embedding the gate later matches against the face a render alters.

        All checks (id, birth date, voice, faces) run before the registry is touched,
        so a refusal leaves no performer and no ledger entry behind. Nobody already
        registered can be enrolled again (consent/enrolment.py): a matching face is
        refused unless ``look_alike_of`` names that performer, which is logged.
        """
        check_identifier(performer_id, field="--id")
        _check_name(name)
        now = datetime.now(UTC)
        if date_of_birth is not None and date_of_birth > now.date():
            raise BadInput("--date-of-birth is in the future")
        if date_of_birth is not None and guardian_key is None:
            probe = Performer(performer_id=performer_id, name=name, public_key_id="0" * 64,
                              date_of_birth=date_of_birth, created_at=now)
            adult_on = probe.adult_on()
            if adult_on is not None and now < adult_on:
                raise BadInput(f"performer {performer_id} is a minor until "
                               f"{adult_on.date().isoformat()}: --guardian-key is required",
                               hint="a minor's grants are signed by a guardian; without "
                                    "their key the record could never hold a grant")
        if not face_images:
            raise BadInput("--face: at least one reference image is needed")
        voice_sha256 = _voice_sha256(voice) if voice is not None else None
        faces = _reference_faces(face_images, engine_name=self.settings.studio.face_engine,
                                 models_dir=self.settings.models_dir,
                                 policy=EnginePolicy.for_studio(self.settings.studio))
        row = PerformerRow(
            performer_id=performer_id, name=name, public_key_pem=public_key.pem().decode(),
            public_key_id=public_key.key_id,
            guardian_key_pem=guardian_key.pem().decode() if guardian_key else None,
            guardian_key_id=guardian_key.key_id if guardian_key else None,
            date_of_birth=date_of_birth, voice_sha256=voice_sha256, created_at=now)
        face_rows = [FaceRow(performer_id=performer_id, engine=f.engine,
                             embedding=embedding_to_bytes(f.embedding),
                             image_sha256=f.image_sha256) for f in faces]
        with self._checkpointed() as session:
            registry = Registry(session)
            self.ledger.lock(session)  # no concurrent enrolment between check and insert
            overridden = check_enrolment(
                registry, performer_id=performer_id, public_key_id=public_key.key_id,
                faces=[(f.engine, f.embedding) for f in faces],
                threshold=self.settings.studio.identity_threshold, look_alike_of=look_alike_of)
            registry.add_performer(row, face_rows)
            facts = _sealed_facts(registry, performer_id)
            registry.set_seal(performer_id, seal_performer(facts, self.signing_key))
            performer = registry.performer_model(row)
            self.ledger.record(session, "performer_added", {
                "performer_id": performer_id, "public_key_id": public_key.key_id,
                "guardian_key_id": row.guardian_key_id, "faces": len(face_rows),
                "face_image_sha256": [f.image_sha256 for f in faces],
                "record_sha256": facts.digest(), "look_alike_of": overridden,
                "voice_sha256": voice_sha256,
                "minor": date_of_birth is not None and performer.adult_on() is not None
                and now < performer.adult_on()})  # type: ignore[operator]
        return performer

    def performers(self) -> list[Performer]:
        with self.reading() as session:
            return Registry(session).performers()

    # avatar reels (biometric footage, see likeness.reels) -------------------
    def check_reel(self, path: Path, *, face_images: Sequence[Path]) -> None:
        """Check a reel against reference images before the performer is enrolled, so
        `performer add --reel` refuses a bad reel without leaving a performer behind."""
        from likeness import reels

        reels.check_reel_media(path)
        policy = EnginePolicy.for_studio(self.settings.studio)
        faces = _reference_faces(face_images, engine_name=self.settings.studio.face_engine,
                                 models_dir=self.settings.models_dir, policy=policy)
        reels.check_reel_identity(path, references=[f.embedding for f in faces],
                                  engine_name=self.settings.studio.face_engine,
                                  models_dir=self.settings.models_dir, policy=policy,
                                  threshold=self.settings.studio.identity_threshold)

    def add_reel(self, performer_id: str, path: Path) -> ReelRef:
        """Register ``path`` as the performer's avatar reel (replacing an earlier one).

        The copy in the performer's folder is what is identity-checked and hashed; the
        registry row and the ``performer_reel_added`` ledger entry commit together."""
        from consent.registry import ReelRow
        from likeness import reels

        media = reels.check_reel_media(path)
        engine_name = self.settings.studio.face_engine
        with self.session() as session:
            registry = Registry(session)
            registry.require_performer(performer_id)
            references = [e for engine, e in registry.reference_embeddings(performer_id)
                          if engine == engine_name]
            previous = registry.reel_row(performer_id)
        folder = reels.performer_dir(self.settings.home, performer_id)
        stored, sha256 = reels.store_reel(path, folder)
        replaced = previous is not None and previous.file_name != stored.name
        try:
            reels.check_reel_identity(
                stored, references=references, engine_name=engine_name,
                models_dir=self.settings.models_dir,
                policy=EnginePolicy.for_studio(self.settings.studio),
                threshold=self.settings.studio.identity_threshold)
            with self.session() as session:
                Registry(session).set_reel(ReelRow(
                    performer_id=performer_id, sha256=sha256, file_name=stored.name,
                    duration_s=media.duration_s, width=media.width, height=media.height,
                    added_at=datetime.now(UTC)))
                self.ledger.record(session, "performer_reel_added", {
                    "performer_id": performer_id, "reel_sha256": sha256,
                    "duration_s": media.duration_s, "width": media.width,
                    "height": media.height,
                    "replaced_sha256": previous.sha256 if previous is not None else None})
        except BaseException:
            if previous is None or replaced:
                reels.discard(stored)
            raise
        if previous is not None and replaced:
            reels.discard(folder / previous.file_name)
        return ReelRef(path=stored, sha256=sha256, duration_s=media.duration_s,
                       width=media.width, height=media.height)

    def reel(self, performer_id: str) -> ReelRef | None:
        """The performer's registered reel, or None (renders read it via the context)."""
        from likeness import reels

        with self.session() as session:
            row = Registry(session).reel_row(performer_id)
        if row is None:
            return None
        return ReelRef(path=reels.performer_dir(self.settings.home, performer_id) / row.file_name,
                       sha256=row.sha256, duration_s=row.duration_s, width=row.width,
                       height=row.height)

    def performer_dir(self, performer_id: str) -> Path:
        """Where any file derived from a performer (reels, statement videos, mouth banks)
        must live, so that erasing them is one folder (docs/threat-model.md, retention)."""
        return self.settings.home / PERFORMERS_DIR / performer_id

    def remove_performer(self, performer_id: str, *, key: SigningKey | None) -> Erasure:
        """Erase a performer's likeness data, with their (or their guardian's) key, or
        the studio's (key=None); see consent.erasure. Deleted rows are then compacted
        out of the database files, and the performer's folder is deleted."""
        from consent.erasure import compact, erase_performer

        with self.session() as session:
            row = Registry(session).require_performer(performer_id)
            if key is None:
                signer, role = self.signing_key, "studio"
            elif key.verify_key.key_id in (row.public_key_id, row.guardian_key_id):
                signer = key
                role = "performer" if key.verify_key.key_id == row.public_key_id else "guardian"
            else:
                raise IntegrityFailure(f"key {key.verify_key.key_id[:16]}… is neither the "
                                       f"performer's nor the guardian's for {performer_id}")
            erasure = erase_performer(session, performer_id=performer_id, signer=signer,
                                      role=role, audit=self.ledger, now=datetime.now(UTC))
            # the erased record (no faces, no name) is what the studio now vouches for:
            # sealed again and logged, so `audit verify` still matches table and ledger
            registry = Registry(session)
            facts = _sealed_facts(registry, performer_id)
            registry.set_seal(performer_id, seal_performer(facts, self.signing_key))
            self.ledger.record(session, "performer_sealed", {
                "performer_id": performer_id, "public_key_id": row.public_key_id,
                "record_sha256": facts.digest(), "reason": "erased"})
        folder = self.performer_dir(performer_id)
        files = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
        if folder.exists():
            shutil.rmtree(folder)
        from models.lipsync.footage.store import forget_performer_banks

        forget_performer_banks(self.settings.cache_dir, performer_id)  # mouth banks too
        compact(self.engine)
        return replace(erasure, files_erased=files)

    def seal_unsealed_performers(self) -> list[str]:
        """Seal records made before performer records were sealed (migration 0004), but only
        those whose keys agree with their `performer_added` ledger entry: a record edited in
        the database before the upgrade stays unsealed, so the gate keeps refusing it."""
        from sqlalchemy import select

        from provenance.ledger.store import EntryRow

        sealed: list[str] = []
        with self.session() as session:
            registry = Registry(session)
            unsealed = [p for p in session.scalars(select(PerformerRow).where(
                PerformerRow.record_signature.is_(None)))]
            if not unsealed:
                return []
            logged: dict[str, dict] = {}
            for body in session.scalars(select(EntryRow.body).where(
                    EntryRow.kind == "performer_added").order_by(EntryRow.seq)):
                payload = json.loads(body)["payload"]
                logged.setdefault(str(payload.get("performer_id")), payload)
            for row in unsealed:
                entry = logged.get(row.performer_id)
                if (entry is None or entry.get("public_key_id") != row.public_key_id
                        or entry.get("guardian_key_id") != row.guardian_key_id):
                    continue
                facts = _sealed_facts(registry, row.performer_id)
                registry.set_seal(row.performer_id, seal_performer(facts, self.signing_key))
                self.ledger.record(session, "performer_sealed", {
                    "performer_id": row.performer_id, "public_key_id": row.public_key_id,
                    "record_sha256": facts.digest()})
                sealed.append(row.performer_id)
        return sealed

    # grants -----------------------------------------------------------------
    def register_grant(self, signed: SignedGrant) -> SignedGrant:
        now = datetime.now(UTC)
        with self._checkpointed() as session:
            registry = Registry(session)
            row = registry.require_performer(signed.grant.performer_id)
            performer = registry.performer_model(row)
            trusted = _trusted_record(registry, row.performer_id, self.verify_key)
            verify_person_signatures(
                signed, performer=performer, performer_key=trusted.performer_key,
                guardian_key=trusted.guardian_key, now=now)
            check_given_to(signed, self.verify_key)
            check_term_limits(signed.grant, performer, now=now)
            if signed.grant.valid_until <= now:
                raise BadInput(f"grant {signed.grant.grant_id} has already expired "
                               f"({signed.grant.valid_until.isoformat()})")
            registered = countersign(signed, self.signing_key)
            registry.add_grant(registered, now=now)
            self.ledger.record(session, "grant_registered", {
                "grant_id": signed.grant.grant_id, "performer_id": performer.performer_id,
                "uses": [u.value for u in signed.grant.uses],
                "grant_sha256": hashlib.sha256(
                    registered.model_dump_json().encode()).hexdigest()})
        return registered

    def grants(self, performer_id: str | None = None) -> list[tuple[SignedGrant, int, bool]]:
        """(grant, renders used, revoked) for every registered grant."""
        with self.reading() as session:
            registry = Registry(session)
            rows = registry.grants_for(performer_id)
            revoked = registry.revoked_ids([r.grant_id for r in rows])
            return [(SignedGrant.model_validate_json(r.document), r.renders_used,
                     r.grant_id in revoked) for r in rows]

    def revoke(self, grant_id: str, *, key: SigningKey | None, reason: str) -> Revocation:
        """Revoke with the performer's/guardian's key, or with the studio key (key=None)."""
        with self._checkpointed() as session:
            registry = Registry(session)
            row = registry.grant_row(grant_id)
            if row is None:
                raise BadInput(f"unknown grant {grant_id}")
            if registry.revoked_ids([grant_id]):
                raise BadInput(f"grant {grant_id} is already revoked")
            performer = registry.require_performer(row.performer_id)
            if key is None:
                signer, role = self.signing_key, "studio"
            else:
                kid = key.verify_key.key_id
                if kid == performer.public_key_id:
                    role = "performer"
                elif kid == performer.guardian_key_id:
                    role = "guardian"
                else:
                    raise IntegrityFailure(
                        f"key {kid[:16]}… is neither the performer's nor the guardian's "
                        f"for grant {grant_id}")
                signer = key
            unsigned = Revocation.parse(grant_id=grant_id, revoked_by=role, reason=reason)
            sig = signer.sign(unsigned.model_dump(mode="json", exclude={"signature"}), role=role)
            revocation = unsigned.model_copy(update={"signature": sig})
            registry.add_revocation(revocation)
            self.ledger.record(session, "grant_revoked", {
                "grant_id": grant_id, "revocation_id": revocation.revocation_id,
                "revoked_by": role, "reason": reason})
        self.forget_unneeded_banks(performer_ids=[row.performer_id])
        return revocation

    def forget_unneeded_banks(self, performer_ids: list[str] | None = None, *,
                              now: datetime | None = None) -> list[str]:
        """Delete the footage-derived mouth banks of performers who no longer hold a live
        grant (every grant revoked or expired): a bank is a cache for renders under a
        grant, and biometric, so it goes when no grant needs it (docs/threat-model.md).
        Returns the performers whose banks went; each deletion is logged."""
        root = self.settings.cache_dir / "performers"
        if not root.is_dir():  # no performer has a bank yet: nothing to import or query
            return []
        # deferred: the bank store loads OpenCV and SciPy's spatial module (0.6 s)
        from models.lipsync.footage.store import BANK_FOLDER, forget_performer_banks

        if performer_ids is None:  # the cheap part first: only performers with a bank
            performer_ids = sorted(p.parent.name for p in root.glob(f"*/{BANK_FOLDER}"))
        now = now or datetime.now(UTC)
        forgotten: list[str] = []
        for performer in performer_ids:
            folder = root / performer / BANK_FOLDER
            if not folder.is_dir():
                continue
            live = [g for g, _, revoked in self.grants(performer)
                    if not revoked and g.grant.valid_until > now]
            if live:
                continue
            digests = sorted(p.stem for p in folder.glob("*.npz"))
            if forget_performer_banks(self.settings.cache_dir, performer):
                with self.session() as session:
                    self.ledger.record(session, "performer_banks_deleted", {
                        "performer_id": performer, "footage_sha256": digests,
                        "reason": "no live grant"})
                forgotten.append(performer)
        return forgotten

    # the gate ---------------------------------------------------------------
    def authorize(self, request: RenderRequest) -> Decision:
        with self.session() as session:
            return authorize(request, session=session, audit=self.ledger, policy=self.policy)

    @cached_property
    def render_context(self) -> RenderContext:
        """The studio as renders and the one publish path see it, built once from the
        settings and the home (the flows may not import this package)."""
        # deferred: they load PIL, the encoder and the watermarks, which only renders need
        from provenance.label import LabelSpec
        from provenance.publish import PublishContext

        self.forget_unneeded_banks()  # expired grants leave no bank behind either
        s = self.settings.studio
        label = (LabelSpec(text=s.label.text.format(studio=s.studio_name),
                           position=s.label.position) if s.visible_label else None)
        publish = PublishContext(
            studio_name=s.studio_name, signing_key=self.signing_key,
            watermark_key=self.watermark_key, ledger=self.ledger, session=self.session,
            c2pa_dir=self.c2pa_dir, label=label, assertion_namespace=s.assertion_namespace,
            tsa_url=s.tsa_url)
        settings = RenderSettings(
            home=self.settings.home, models_dir=self.settings.models_dir,
            cache_dir=self.settings.cache_dir,
            face_engine=s.face_engine, engine_policy=EnginePolicy.for_studio(s))
        return RenderContext(publish=publish, authorize=self.authorize, settings=settings,
                             reel_of=self.reel)

    # verification -----------------------------------------------------------
    def verify(self, path: Path) -> VerifyReport:
        """Check a file against this studio's own keys, trust anchor and ledger (the set-up
        `likeness verify` and the demo share)."""
        from provenance.verify import verify_file

        with self.reading() as session:
            return verify_file(path, session=session, studio_key=self.verify_key,
                               trust_anchor_pem=self.trust_anchors(),
                               watermark_key=self.watermark_key,
                               assertion_namespace=self.settings.studio.assertion_namespace)

    def trust_anchors(self) -> bytes:
        """The PEM anchors a C2PA check of this studio's files uses: the studio root and,
        when configured, the time-stamp authority's root."""
        from provenance.c2pa.certs import ROOT_CERT_NAME

        anchors = (self.c2pa_dir / ROOT_CERT_NAME).read_bytes()
        tsa_root = self.settings.studio.tsa_trust_anchor
        if tsa_root is not None:
            try:
                anchors += b"\n" + tsa_root.read_bytes()
            except OSError as exc:
                raise BadInput(f"cannot read tsa_trust_anchor {tsa_root}: {exc}") from None
        return anchors


def _check_name(name: str) -> None:
    """The name is printed in tables and manifests: plain text, bounded, not blank."""
    try:
        check_plain_text(name, field="--name")
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if not name.strip() or len(name) > 200:
        raise BadInput("--name must be 1 to 200 characters")


def _sealed_facts(registry: Registry, performer_id: str) -> PerformerFacts:
    session = registry.session
    session.flush()
    found = registry.performer_facts(performer_id)
    if found is None:  # pragma: no cover - flushed just above
        raise BadInput(f"unknown performer {performer_id!r}")
    return found[0]


def _trusted_record(registry: Registry, performer_id: str,
                    studio_key: VerifyKey) -> TrustedPerformer:
    """The performer's keys, only from a record that carries the studio's seal: a key
    swapped in the database must not be what a new grant is checked against."""
    found = registry.performer_facts(performer_id)
    if found is None:
        raise BadInput(f"unknown performer {performer_id!r}",
                       hint="add them with `likeness performer add`")
    return trusted_performer(found[0], found[1], studio_key)


def _reference_faces(images: Sequence[Path], *, engine_name: str, models_dir: Path,
                     policy: EnginePolicy) -> list[FaceReference]:
    """One embedding per image; an image with no face or several faces is refused, since
    a reference that may be someone else would let their face pass the gate."""
    from media.digest import sha256_file
    from models import registry
    from models.face import load_image, single_face_embedding

    engine = registry.get("face", engine_name, models_dir=models_dir, policy=policy)
    return [FaceReference(engine=engine.name,
                          embedding=single_face_embedding(engine, load_image(path),
                                                          source=str(path)),
                          image_sha256=sha256_file(path)) for path in images]


def _voice_sha256(path: Path) -> str:
    """Only the hash of the reference voice is kept; the file must at least be audio."""
    import soundfile

    from media.digest import sha256_file

    try:
        info = soundfile.info(str(path))
    except Exception:
        raise BadInput(f"cannot read voice file {path}: not a readable audio file") from None
    if info.frames == 0:
        raise BadInput(f"voice file {path} is empty")
    return sha256_file(path)
