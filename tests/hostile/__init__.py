"""Hostile inputs: every case is built inside the test (no binaries committed)."""
