"""Media layer: read, decode, encode and mux video and audio; subtitles; stills.

One module per job: ``ffmpeg`` (locating binaries), ``probe`` (what a file
holds), ``decode`` (upright RGB frames), ``encode`` (``VideoWriter``), ``mux``
(new soundtrack, video copied), ``audio`` (loudness, fitting, ducking),
``subtitles`` (SRT/VTT/ASS) and ``compose`` (cards and backgrounds). Import
the submodule you need; this package imports nothing heavy on its own.
"""
