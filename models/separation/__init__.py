"""Source separation: the original dialogue split from music and effects before a dub."""

from models.separation.base import Separator, Stems

__all__ = ["Separator", "Stems"]
