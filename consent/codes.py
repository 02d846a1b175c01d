"""Language and territory codes, validated against ISO 639 and ISO 3166 (pycountry).

A language is a BCP-47 tag restricted to what dubbing needs: a primary ISO 639-1
(two letters) or ISO 639-3 (three letters) subtag, optionally followed by an
ISO 3166-1 alpha-2 region ("es", "es-MX", "pt-BR"). Tags are normalized to
lower-case language and upper-case region so that grants compare exactly.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pycountry

_TAG = re.compile(r"^(?P<lang>[A-Za-z]{2,3})(?:[-_](?P<region>[A-Za-z]{2}))?$")


@lru_cache(maxsize=4096)
def normalize_language(tag: str) -> str:
    """Return the canonical form of ``tag``; ``ValueError`` names what is wrong."""
    match = _TAG.match(tag.strip())
    if not match:
        raise ValueError(f"bad language code {tag!r}: expected e.g. 'es' or 'pt-BR'")
    lang = match["lang"].lower()
    found = (pycountry.languages.get(alpha_2=lang) if len(lang) == 2
             else pycountry.languages.get(alpha_3=lang))
    if found is None:
        raise ValueError(f"unknown language code {tag!r} (not in ISO 639)")
    region = match["region"]
    if region is None:
        return lang
    return f"{lang}-{normalize_territory(region)}"


@lru_cache(maxsize=512)
def normalize_territory(code: str) -> str:
    """Return the ISO 3166-1 alpha-2 code upper-cased; ``ValueError`` if unknown."""
    upper = code.strip().upper()
    if len(upper) != 2 or pycountry.countries.get(alpha_2=upper) is None:
        raise ValueError(f"unknown territory code {code!r} "
                         "(expected ISO 3166-1 alpha-2, e.g. 'ES')")
    return upper


def language_covers(granted: str, requested: str) -> bool:
    """A grant for "es" covers "es-MX"; a grant for "es-MX" does not cover "es" or "es-ES"."""
    return requested == granted or requested.split("-", 1)[0] == granted
