"""The footage lip-sync engine: Video Rewrite-style re-sequencing of the performer's mouth.

Modules, one job each: `bank` (aligned mouth crops and their descriptors), `store`
(build a bank from a video file once, cached per performer by SHA-256, or from frames
another pass decodes), `select` (Viterbi unit selection), `synth` (warp, colour match,
feathered blend), `coarse_warp` (the piecewise-affine warps from a coarse map),
`calibrate` (how far a pasted lip gap reads back from the one asked, measured per
render) and `engine` (the `LipSync` backend the registry loads as ``footage``).

For other flows (an avatar from a performer's reel)::

    from models.lipsync.footage.store import bank_from_video
    bank = bank_from_video(reel, face_engine=faces, cache_dir=cache, performer=pid)
    engine = registry.get("lipsync", "footage", models_dir=d, policy=p, bank=bank)

Importing this package imports nothing heavy.
"""
