"""dlib's descriptor network on onnxruntime (models/face/dlib_descriptor.py): the same
descriptors as dlib's own ``compute_face_descriptor`` (the reference, still installed with
dlib-bin), the GIL left free while it runs, a strict reader of dlib's file format, and the
pinned derived graph kept and checked under the models dir."""

from __future__ import annotations

import contextlib
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from likeness.errors import BadInput
from models.face import dlib_descriptor, load_image
from models.face.dlib_descriptor import (
    DERIVED_NAME,
    DERIVED_SHA256,
    build_graph,
    load_descriptor,
    read_net,
)
from models.face.dlib_engine import DlibFaceEngine, _import_dlib, _weight_paths
from tests.support.faces import PORTRAIT_NAMES
from tests.support.real_faces import RealFacesUnavailable, real_faces
from tests.support.threads import overlap_s, run_pair

FACES_DIR = Path(__file__).resolve().parents[3] / "assets" / "faces"


@pytest.fixture(scope="module")
def weights() -> Path:
    return _weight_paths()[1]


@pytest.fixture(scope="module")
def dlib_reference(weights: Path):  # type: ignore[no-untyped-def]
    return _import_dlib().face_recognition_model_v1(str(weights))


def _chips(engine: DlibFaceEngine) -> list[np.ndarray]:
    """Aligned chips of the six painted portraits and, when their packages can be
    fetched, of the real photographs (five of Obama, Biden, Hanks, a group of four)."""
    images = [load_image(FACES_DIR / f"{name}.png") for name in PORTRAIT_NAMES]
    with contextlib.suppress(RealFacesUnavailable):
        images += [load_image(path) for path in real_faces().values()]
    return [engine.face_chip(image, face) for image in images for face in engine.detect(image)]


def test_descriptors_match_dlibs_own_network(dlib_engine: DlibFaceEngine,
                                             dlib_reference: object) -> None:
    chips = _chips(dlib_engine)
    chips.append(np.random.default_rng(7).integers(0, 256, (150, 150, 3), dtype=np.uint8))
    assert len(chips) >= 7
    ours = np.stack([dlib_engine.embed_chip(chip) for chip in chips])
    theirs = np.stack([np.asarray(dlib_reference.compute_face_descriptor(chip, 1),  # type: ignore[attr-defined]
                                  dtype=np.float32) for chip in chips])
    assert ours.shape == (len(chips), 128) and ours.dtype == np.float32
    assert float(np.abs(ours - theirs).max()) < 1e-5
    # a batch gives each chip's own descriptor
    batch = dlib_engine._descriptor.describe(np.stack(chips[:4]))
    assert float(np.abs(batch - ours[:4]).max()) < 1e-5


def test_two_threads_compute_descriptors_at_once(dlib_engine: DlibFaceEngine) -> None:
    """dlib's own call kept the GIL, so two threads' calls never overlapped in time; the
    session releases it, so they do (and each still gets the single-thread answer)."""
    chips = _chips(dlib_engine)[:2]
    alone = [dlib_engine.embed_chip(chip) for chip in chips]
    spans: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
    wrong: list[int] = []

    def work(i: int) -> None:
        for _ in range(40):
            began = time.perf_counter()
            descriptor = dlib_engine.embed_chip(chips[i])
            spans[i].append((began, time.perf_counter()))
            if not np.array_equal(descriptor, alone[i]):
                wrong.append(i)

    run_pair(work)
    assert wrong == []
    inside = sum(e - s for s, e in spans[0] + spans[1])
    assert overlap_s(spans[0], spans[1]) > 0.1 * inside


def test_the_reader_refuses_what_is_not_the_descriptor_network(weights: Path) -> None:
    data = weights.read_bytes()
    for broken, why in ((data[: len(data) // 2], "truncated"),
                        (data + b"\x01\x00", "trailing bytes"),
                        (data[:4] + b"\x00" * 64, "zeroed"),
                        (_weight_paths()[0].read_bytes()[:200_000], "the shape predictor")):
        with pytest.raises(BadInput, match="not dlib's face descriptor network"):
            read_net(broken, what=why)


def test_the_graph_is_built_the_same_every_time_and_pinned(weights: Path) -> None:
    model = build_graph(read_net(weights.read_bytes()))
    assert hashlib.sha256(model).hexdigest() == DERIVED_SHA256


def test_the_derived_graph_is_kept_and_a_changed_one_rebuilt(
        weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    derived = tmp_path / "derived"
    load_descriptor(weights, derived_dir=derived)
    kept = derived / DERIVED_NAME
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == DERIVED_SHA256
    assert sorted(p.name for p in derived.iterdir()) == [DERIVED_NAME]  # no temp left
    builds: list[int] = []
    real_build = dlib_descriptor.build_graph

    def counted(net: dlib_descriptor.DlibNet) -> bytes:
        builds.append(1)
        return real_build(net)

    monkeypatch.setattr(dlib_descriptor, "build_graph", counted)
    load_descriptor(weights, derived_dir=derived)
    assert builds == []  # the kept graph was read
    kept.write_bytes(kept.read_bytes()[:-8] + b"\x00" * 8)  # tampered: not run, rebuilt
    (derived / f".{DERIVED_NAME}.killed").write_bytes(b"half a graph")  # a crash's temp
    net = load_descriptor(weights, derived_dir=derived)
    assert builds == [1]
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == DERIVED_SHA256
    assert sorted(p.name for p in derived.iterdir()) == [DERIVED_NAME]
    chip = np.full((150, 150, 3), 128, np.uint8)
    assert net.describe(chip).shape == (1, 128)
    with pytest.raises(BadInput, match="150x150 RGB uint8"):
        net.describe(np.zeros((150, 150), np.uint8))
