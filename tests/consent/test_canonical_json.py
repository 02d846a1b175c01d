"""The fast path of `canonical_json` writes exactly what RFC 8785 (the rfc8785 package)
writes, and hands everything else to it."""

from __future__ import annotations

import random

import pytest
import rfc8785

from consent.signing import canonical_json


def _strings() -> list[str]:
    rng = random.Random(16)
    every_control = "".join(chr(i) for i in range(0x00, 0xA0))
    picks = [chr(rng.choice([rng.randrange(0x20, 0xD800), rng.randrange(0xE000, 0x110000)]))
             for _ in range(2000)]
    return [every_control, "\u2028\u2029\ufeff\uffff", "".join(picks), "", '"\\/', "ñ€😀"]


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [True, False, None, -(2**53 - 1), 2**53 - 1], "c": {"z": "", "y": []}},
    *({"k": s, "list": [s, {"n": s}]} for s in _strings()),
    [],
    "plain",
])
def test_fast_path_matches_rfc8785(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [{"f": 1.5}, {"f": 1e21}, [0.1, 2.0]])
def test_numbers_rfc8785_formats_go_to_it(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [{"big": 2**53}, {"s": "\ud800"}])
def test_values_rfc8785_refuses_are_refused(value: object) -> None:
    with pytest.raises(Exception) as caught:
        rfc8785.dumps(value)
    with pytest.raises(type(caught.value)):
        canonical_json(value)
