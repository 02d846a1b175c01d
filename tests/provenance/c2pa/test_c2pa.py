"""C2PA: studio chain, signing a real MP4, reading it back trusted/untrusted/tampered."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import ValidationError

from likeness.errors import BadInput, IntegrityFailure, LikenessError
from provenance.c2pa import (
    WATERMARK_ACTION,
    C2paAction,
    C2paIngredientSpec,
    C2paManifestSpec,
    CertChainPaths,
    ConsentAssertion,
    LedgerAssertion,
    WatermarkAssertion,
    create_chain,
    digital_source_type_url,
    ensure_chain,
    read_assertion,
    read_manifest,
    sign_media,
)
from provenance.c2pa.certs import C2PA_CLAIM_SIGNING_EKU
from provenance.c2pa.reader import UNTRUSTED_SIGNER_CODE
from tests.support.tsa import LocalTsa, openssl_available, start_tsa

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")

STUDIO = "Likeness Test Studio"
CONSENT = ConsentAssertion(grant_ids=("grant-1", "grant-2"), performer_id="ava",
                           decision_id="dec-42", uses=("dubbing", "lip_sync"), language="es",
                           production=None, studio=STUDIO)
LEDGER = LedgerAssertion(render_id="00ff00ff00ff00ff", seq=2, entry_hash="ab" * 32,
                         tree_size=3, root_hash="12" * 32, tree_head_at="2026-01-01T00:00:00Z",
                         tree_head_signature="34" * 32, inclusion_path=("cd" * 32, "ef" * 32))
WATERMARK = WatermarkAssertion(video_algorithm="likeness-dct-ss/1",
                               audio_algorithm="likeness-stft-ss/1", payload="00ff00ff00ff00ff")


@pytest.fixture(scope="module")
def source_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "source.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
         "-t", "2", "-c:v", "libx264", "-c:a", "aac", "-movflags", "+faststart", str(path)],
        check=True)
    return path


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> CertChainPaths:
    return create_chain(tmp_path_factory.mktemp("keys") / "c2pa", studio_name=STUDIO)


def dub_spec(source: Path) -> C2paManifestSpec:
    return C2paManifestSpec(
        title="dubbed.mp4",
        digital_source_type="compositeWithTrainedAlgorithmicMedia",
        actions=(
            C2paAction(action="c2pa.edited", parameters={"description": "lip-synced dub"}),
            C2paAction(action="c2pa.translated",
                       parameters={"sourceLanguage": "en", "targetLanguage": "es"}),
            C2paAction(action=WATERMARK_ACTION),
        ),
        ingredient=C2paIngredientSpec(path=source, title="source.mp4"),
        custom_assertions={a.label(): a.model_dump(mode="json")
                           for a in (CONSENT, LEDGER, WATERMARK)},
    )


@pytest.fixture(scope="module")
def signed_mp4(source_mp4: Path, chain: CertChainPaths) -> Path:
    dest = source_mp4.with_name("signed.mp4")
    sign_media(source=source_mp4, dest=dest, chain=chain, manifest=dub_spec(source_mp4))
    return dest


# --- certificate chain ---------------------------------------------------------------

def test_chain_files_profile_and_key_mode(chain: CertChainPaths) -> None:
    assert stat.S_IMODE(os.stat(chain.leaf_key).st_mode) == 0o600
    root = x509.load_pem_x509_certificate(chain.root_cert.read_bytes())
    leaf, intermediate = x509.load_pem_x509_certificates(chain.chain_cert.read_bytes())
    root.verify_directly_issued_by(root)
    intermediate.verify_directly_issued_by(root)
    leaf.verify_directly_issued_by(intermediate)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    ekus = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ekus
    assert C2PA_CLAIM_SIGNING_EKU in ekus
    assert C2PA_CLAIM_SIGNING_EKU.dotted_string == "1.3.6.1.4.1.62558.2.1"
    assert x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36") in ekus
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    root_years = (root.not_valid_after_utc - root.not_valid_before_utc) / dt.timedelta(days=365)
    leaf_years = (leaf.not_valid_after_utc - leaf.not_valid_before_utc) / dt.timedelta(days=365)
    assert 9.9 < root_years < 10.1 and 4.9 < leaf_years < 5.1


def test_create_refuses_to_overwrite_and_ensure_reuses(chain: CertChainPaths) -> None:
    before = chain.leaf_key.read_bytes()
    with pytest.raises(BadInput):
        create_chain(chain.directory, studio_name=STUDIO)
    assert ensure_chain(chain.directory, STUDIO) == chain
    assert chain.leaf_key.read_bytes() == before


# --- signing and reading ---------------------------------------------------------------

def test_signed_file_is_trusted_with_anchor_and_round_trips(
        signed_mp4: Path, chain: CertChainPaths) -> None:
    report = read_manifest(signed_mp4, trust_anchor_pem=chain.root_cert.read_bytes())
    assert report.present and report.validation_state == "Trusted" and report.trusted
    assert report.errors == []
    for written in (CONSENT, LEDGER, WATERMARK):
        assert read_assertion(report.assertions, type(written)) == written
    assert report.ingredient_titles == ["source.mp4"]
    assert report.claim_generator == "likeness-studio/0.1.0"
    assert report.signature_issuer == STUDIO
    assert report.title == "dubbed.mp4"
    assert report.active_manifest_label and report.active_manifest_label.startswith("urn:c2pa:")
    names = [a["action"] for a in report.actions]
    assert names == ["c2pa.opened", "c2pa.edited", "c2pa.translated", WATERMARK_ACTION]
    composite = digital_source_type_url("compositeWithTrainedAlgorithmicMedia")
    assert report.actions[1]["digitalSourceType"] == composite
    assert report.actions[2]["parameters"]["targetLanguage"] == "es"
    assert report.actions[1]["description"] == "lip-synced dub"  # the standard field
    assert "description" not in report.actions[1].get("parameters", {})


def test_actions_and_studio_assertions_are_created_not_gathered(
        signed_mp4: Path, chain: CertChainPaths) -> None:
    report = read_manifest(signed_mp4, trust_anchor_pem=chain.root_cert.read_bytes())
    created = set(report.created_assertions)
    assert "c2pa.actions.v2" in created
    assert {a.label() for a in (CONSENT, LEDGER, WATERMARK)} <= created
    assert report.timestamp is None  # signed without a TSA


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTsa:
    if not openssl_available():
        pytest.skip("needs the openssl command line for the local RFC 3161 TSA")
    server = start_tsa(tmp_path_factory.mktemp("tsa"))
    yield server  # type: ignore[misc]
    server.stop()


def test_a_tsa_url_puts_an_rfc3161_time_stamp_in_the_signature(
        source_mp4: Path, chain: CertChainPaths, tsa: LocalTsa, tmp_path: Path) -> None:
    dest = tmp_path / "stamped.mp4"
    sign_media(source=source_mp4, dest=dest, chain=chain, manifest=dub_spec(source_mp4),
               tsa_url=tsa.url)
    root = chain.root_cert.read_bytes()
    report = read_manifest(dest, trust_anchor_pem=root)
    assert report.validation_state == "Trusted" and report.timestamp == "validated"
    assert report.signature_time is not None
    stamped_at = dt.datetime.fromisoformat(report.signature_time)
    assert abs(dt.datetime.now(dt.UTC) - stamped_at) < dt.timedelta(minutes=5)
    anchored = read_manifest(dest, trust_anchor_pem=root + b"\n" + tsa.root_pem)
    assert anchored.validation_state == "Trusted" and anchored.timestamp == "trusted"


def test_an_unreachable_tsa_fails_the_signing_and_leaves_no_file(
        source_mp4: Path, chain: CertChainPaths, tmp_path: Path) -> None:
    dest = tmp_path / "out.mp4"
    with pytest.raises(LikenessError):
        sign_media(source=source_mp4, dest=dest, chain=chain, manifest=dub_spec(source_mp4),
                   tsa_url="http://127.0.0.1:9/tsa")
    assert not dest.exists()
    with pytest.raises(BadInput, match="http"):
        sign_media(source=source_mp4, dest=dest, chain=chain, manifest=dub_spec(source_mp4),
                   tsa_url="ftp://tsa.example")


def test_without_anchor_or_with_another_root_it_is_only_valid(
        signed_mp4: Path, tmp_path: Path) -> None:
    report = read_manifest(signed_mp4, trust_anchor_pem=None)
    assert report.validation_state == "Valid" and not report.trusted
    assert [e.split(":")[0] for e in report.errors] == [UNTRUSTED_SIGNER_CODE]
    other = create_chain(tmp_path / "other", studio_name="Someone Else")
    report = read_manifest(signed_mp4, trust_anchor_pem=other.root_cert.read_bytes())
    assert report.validation_state == "Valid"


def test_flipped_media_byte_is_invalid(signed_mp4: Path, chain: CertChainPaths,
                                       tmp_path: Path) -> None:
    data = bytearray(signed_mp4.read_bytes())
    mdat_start, mdat_size = top_level_box(data, b"mdat")
    data[mdat_start + mdat_size // 2] ^= 0x01
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    report = read_manifest(tampered, trust_anchor_pem=chain.root_cert.read_bytes())
    assert report.present and report.validation_state == "Invalid"
    assert any("bmffHash.mismatch" in e for e in report.errors)


def test_corrupted_manifest_store_is_reported_invalid(signed_mp4: Path, chain: CertChainPaths,
                                                      tmp_path: Path) -> None:
    data = bytearray(signed_mp4.read_bytes())
    at = data.find(b"c2pa.signature")
    assert at > 0
    data[at + 200] ^= 0x40
    tampered = tmp_path / "tampered-store.mp4"
    tampered.write_bytes(bytes(data))
    report = read_manifest(tampered, trust_anchor_pem=chain.root_cert.read_bytes())
    assert report.present and report.validation_state == "Invalid" and report.errors


def test_unsigned_file_has_no_manifest(source_mp4: Path) -> None:
    report = read_manifest(source_mp4, trust_anchor_pem=None)
    assert report.present is False and report.validation_state is None and report.errors == []


def test_avatar_manifest_starts_with_created(source_mp4: Path, chain: CertChainPaths,
                                             tmp_path: Path) -> None:
    spec = C2paManifestSpec(title="avatar.mp4", digital_source_type="trainedAlgorithmicMedia",
                            actions=(C2paAction(action=WATERMARK_ACTION),),
                            custom_assertions={CONSENT.label(): CONSENT.model_dump(mode="json")})
    dest = tmp_path / "avatar.mp4"
    sign_media(source=source_mp4, dest=dest, chain=chain, manifest=spec)
    report = read_manifest(dest, trust_anchor_pem=chain.root_cert.read_bytes())
    assert report.validation_state == "Trusted"
    assert report.ingredient_titles == []
    assert report.actions[0] == {"action": "c2pa.created",
                                 "digitalSourceType": digital_source_type_url(
                                     "trainedAlgorithmicMedia")}
    assert "c2pa.actions.v2" in report.created_assertions


def test_description_lives_in_the_standard_field_once() -> None:
    lifted = C2paAction(action="c2pa.edited", parameters={"description": "d", "k": 1})
    assert lifted.description == "d" and lifted.parameters == {"k": 1}
    with pytest.raises(ValidationError, match="twice"):
        C2paAction(action="c2pa.edited", description="a", parameters={"description": "b"})


# --- refusals ---------------------------------------------------------------------------

def test_spec_refuses_what_c2pa_would_reject(source_mp4: Path) -> None:
    with pytest.raises(ValidationError, match="sourceLanguage"):
        C2paAction(action="c2pa.translated", parameters={"targetLanguage": "es"})
    with pytest.raises(ValidationError, match="unbound"):
        C2paAction(action="c2pa.watermarked")
    with pytest.raises(ValidationError, match="reserved"):
        C2paManifestSpec(title="t", digital_source_type="trainedAlgorithmicMedia",
                         custom_assertions={"c2pa.soft-binding": {}})
    with pytest.raises(ValidationError, match="parentOf"):
        C2paManifestSpec(title="t", digital_source_type="trainedAlgorithmicMedia",
                         actions=(C2paAction(action="c2pa.opened"),))
    with pytest.raises(ValidationError):
        C2paManifestSpec(title="t", digital_source_type="syntheticMedia")  # type: ignore[arg-type]


def test_mismatched_key_fails_and_leaves_no_file(source_mp4: Path, chain: CertChainPaths,
                                                 tmp_path: Path) -> None:
    other = create_chain(tmp_path / "other", studio_name="Other")
    mixed = CertChainPaths(directory=chain.directory, root_cert=chain.root_cert,
                           chain_cert=chain.chain_cert, leaf_key=other.leaf_key)
    dest = tmp_path / "out.mp4"
    with pytest.raises(IntegrityFailure, match="does not match"):
        sign_media(source=source_mp4, dest=dest, chain=mixed, manifest=dub_spec(source_mp4))
    assert not dest.exists()


def test_non_media_input_is_bad_input(tmp_path: Path, chain: CertChainPaths) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a video")
    with pytest.raises(BadInput):
        read_manifest(text, trust_anchor_pem=None)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(BadInput):
        read_manifest(garbage, trust_anchor_pem=None)
    with pytest.raises(BadInput):
        read_manifest(tmp_path / "missing.mp4", trust_anchor_pem=None)
    with pytest.raises(BadInput):
        sign_media(source=tmp_path / "missing.mp4", dest=tmp_path / "o.mp4", chain=chain,
                   manifest=C2paManifestSpec(title="t",
                                             digital_source_type="trainedAlgorithmicMedia"))


def top_level_box(data: bytearray, box_type: bytes) -> tuple[int, int]:
    """(payload offset, payload size) of the first top-level ISO-BMFF box of ``box_type``."""
    position = 0
    while position + 8 <= len(data):
        size = int.from_bytes(data[position:position + 4], "big")
        header = 8
        if size == 1:
            size = int.from_bytes(data[position + 8:position + 16], "big")
            header = 16
        if data[position + 4:position + 8] == box_type:
            return position + header, size - header
        position += size
    raise AssertionError(f"no {box_type!r} box")
