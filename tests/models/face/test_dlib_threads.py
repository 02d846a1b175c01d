"""dlib's thread-safety facts, as the face engine relies on them: its detector and shape
predictor release the GIL (two threads' calls into dlib overlap in time, so concurrent batch
jobs use several cores), and with the engine's model pool each thread gets exactly the
answers it gets alone (the descriptor, run by onnxruntime, too:
test_dlib_descriptor.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.face import dlib_engine, load_image
from models.face.dlib_engine import DlibFaceEngine
from tests.support.threads import Interval, overlap_s, run_pair

ASSETS = Path(__file__).resolve().parents[3] / "assets" / "faces"
ROUNDS = 6


class _Timed:
    """A dlib model whose calls record when the calling thread was inside dlib."""

    def __init__(self, model: Any, log: dict[int, list[Interval]]) -> None:
        self._model, self._log = model, log

    def _timed(self, fn: Callable[..., Any], *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self._log.setdefault(threading.get_ident(), []).append((began, time.perf_counter()))

    def __call__(self, *args: Any) -> Any:
        return self._timed(self._model, *args)

    def run(self, *args: Any) -> Any:
        return self._timed(self._model.run, *args)


def _answers(engine: DlibFaceEngine, image: np.ndarray) -> tuple[tuple[int, ...], np.ndarray,
                                                                 np.ndarray]:
    faces = engine.detect(image)
    assert len(faces) == 1
    face = faces[0]
    box = (face.box.left, face.box.top, face.box.right, face.box.bottom)
    return box, face.landmarks, engine.embed(image, face)


def test_pooled_models_run_at_once_and_agree_with_one_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    log: dict[int, list[Interval]] = {}

    def timed(load: Callable[[], Any]) -> dlib_engine._ModelPool:
        return dlib_engine._ModelPool(lambda: _Timed(load(), log))

    pools = dlib_engine._ModelPools(timed(dlib_engine._load_detector),
                                    timed(dlib_engine._load_predictor))
    monkeypatch.setattr(dlib_engine, "_POOLS", pools)
    engine = DlibFaceEngine()
    images = [load_image(ASSETS / "female01.png"), load_image(ASSETS / "male01.png")]
    alone = [_answers(engine, image) for image in images]
    log.clear()
    wrong: list[str] = []
    # Overlap is measured once both threads hold their models: a thread's first round
    # may load a second model (~1 s, outside dlib's calls) while the other works alone.
    released: list[float] = []
    warmed = threading.Barrier(2, action=lambda: released.append(time.perf_counter()))

    def work(i: int) -> None:
        for round_ in range(1 + ROUNDS):
            if round_ == 1:
                warmed.wait()
            box, landmarks, descriptor = _answers(engine, images[i])
            if box != alone[i][0] or not np.array_equal(landmarks, alone[i][1]):
                wrong.append(f"thread {i}: face moved")
            if not np.array_equal(descriptor, alone[i][2]):
                wrong.append(f"thread {i}: descriptor off by "
                             f"{np.linalg.norm(descriptor - alone[i][2]):.3f}")

    threads = run_pair(work)
    assert wrong == []
    # at most one model of each kind per thread in flight, then reused (a kind whose
    # calls never overlapped in time needs only one)
    assert all(1 <= pool.created <= 2
               for pool in (pools.detector, pools.predictor))
    first, second = ([span for span in log[t.ident] if span[0] >= released[0]]
                     for t in threads if t.ident is not None)
    inside_s = sum(e - s for s, e in first + second)
    # had dlib kept the GIL (or a lock serialised the calls), they could not overlap at all
    assert overlap_s(first, second) > 0.1 * inside_s
