"""What the tests and benchmarks share: CLI runner, studio people, generated media,
a throw-away PostgreSQL server, and the edits (attacks) a re-upload makes to media.

Nothing here is product code: generated faces and attacks live beside the tests,
not in the packages that ship."""
