"""Tamper-evident ledger: an append-only event log hashed into an RFC 9162 Merkle tree."""
