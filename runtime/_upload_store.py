"""Uploads remembered across runs: a SQLite file mapping (account, provider, content hash) to
the provider's file id and when it expires, so a second run names the file it uploaded before
instead of sending it again.

A few rows per job (one per distinct file), read and written from worker threads, each call on
a connection of its own: no writer thread, nothing held open between calls. WAL mode and a busy
timeout let processes share one file, as the response cache does.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cloudburst._constants import CACHE_BUSY_TIMEOUT_SECONDS
from cloudburst._errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Uploaded:
    """A file the provider holds: what requests name it by, its resource name where polling and
    deleting use another one (Gemini's `files/...`), and when the provider deletes it."""

    reference: str
    name: str | None = None
    expires_at: float | None = None
    """Unix seconds; None: kept until deleted."""


class UploadStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(self.path, timeout=CACHE_BUSY_TIMEOUT_SECONDS, isolation_level=None)
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS uploads (scope TEXT NOT NULL, provider TEXT NOT NULL,"
                " digest TEXT NOT NULL, reference TEXT NOT NULL, name TEXT, expires_at REAL,"
                " PRIMARY KEY (scope, provider, digest))"
            )
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open the upload store {self.path}: {exc}") from None
        return connection

    def get(self, scope: str, provider: str, digest: str) -> Uploaded | None:
        connection = self._connect()
        try:
            row = connection.execute(
                "SELECT reference, name, expires_at FROM uploads WHERE scope = ? AND provider = ? AND digest = ?",
                (scope, provider, digest),
            ).fetchone()
        finally:
            connection.close()
        return None if row is None else Uploaded(*row)

    def put(self, scope: str, provider: str, digest: str, uploaded: Uploaded) -> None:
        connection = self._connect()
        try:
            connection.execute(
                "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?, ?)",
                (scope, provider, digest, uploaded.reference, uploaded.name, uploaded.expires_at),
            )
        finally:
            connection.close()

    def forget(self, scope: str, provider: str, digest: str) -> None:
        connection = self._connect()
        try:
            connection.execute(
                "DELETE FROM uploads WHERE scope = ? AND provider = ? AND digest = ?", (scope, provider, digest)
            )
        finally:
            connection.close()
