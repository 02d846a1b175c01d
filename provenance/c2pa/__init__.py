"""C2PA content credentials for studio renders: certificate chain, signing, reading,
and the studio's own ``studio.likeness.*`` assertions.

Front door of the package; the native c2pa library is loaded only when a file is
actually signed or read, so importing this package stays cheap.
"""

from provenance.c2pa.assertions import (
    ConsentAssertion,
    EnginesAssertion,
    GrantsAssertion,
    LabelAssertion,
    LedgerAssertion,
    LikenessAssertion,
    LikenessAssertions,
    MalformedAssertion,
    SourceAssertion,
    WatermarkAssertion,
    read_assertion,
)
from provenance.c2pa.certs import CertChainPaths, create_chain, ensure_chain
from provenance.c2pa.manifest import (
    WATERMARK_ACTION,
    C2paAction,
    C2paIngredientSpec,
    C2paManifestSpec,
    DigitalSourceType,
    digital_source_type_url,
    sign_media,
)
from provenance.c2pa.reader import ChainLink, ManifestReport, ValidationState, read_manifest

__all__ = [
    "WATERMARK_ACTION",
    "C2paAction",
    "C2paIngredientSpec",
    "C2paManifestSpec",
    "CertChainPaths",
    "ChainLink",
    "ConsentAssertion",
    "DigitalSourceType",
    "EnginesAssertion",
    "GrantsAssertion",
    "LabelAssertion",
    "LedgerAssertion",
    "LikenessAssertion",
    "LikenessAssertions",
    "MalformedAssertion",
    "SourceAssertion",
    "ManifestReport",
    "ValidationState",
    "WatermarkAssertion",
    "create_chain",
    "digital_source_type_url",
    "ensure_chain",
    "read_assertion",
    "read_manifest",
    "sign_media",
]
