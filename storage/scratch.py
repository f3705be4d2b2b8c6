"""Scratch space of one command run, on disk: memory that does not grow with the input.

:class:`SeenKeys` is the set of post keys an import has seen in its file, with the line of each. It
lives in a private temporary SQLite database (``sqlite3.connect("")``: a file in the temporary
directory, removed when the connection closes, also if the process dies), whatever database the
posts go to, so duplicates are found the same way on SQLite and PostgreSQL. Its page cache is
bounded (:data:`CACHE_KIB`); the rest of the set is on disk, so the memory an import keeps for
duplicate detection is the same for a file of 10k posts and of 10 M.
"""

from __future__ import annotations

import hashlib
import sqlite3

#: Page cache of the key set (KiB): the most memory it keeps, whatever the number of keys.
CACHE_KIB = 4096
#: Inserted keys per transaction of the scratch database.
COMMIT_EVERY = 1000


class SeenKeys:
    """The posts (platform, source, id) seen so far in one file, and the line where each was first seen.

    Keys are stored as 8-byte BLAKE2b digests (the row id of a table of the scratch database): about
    25 bytes of disk per key, and two different keys of a file of 1 M posts share a digest with a
    probability of about 3·10⁻⁸.
    """

    def __init__(self, cache_kib: int = CACHE_KIB) -> None:
        self._db = sqlite3.connect("", isolation_level=None)
        for pragma in (f"cache_size = -{int(cache_kib)}", "journal_mode = OFF", "synchronous = OFF", "temp_store = FILE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (k INTEGER PRIMARY KEY, line INTEGER NOT NULL)")
        self._pending = 0

    @staticmethod
    def digest(key: tuple[str, str, str]) -> int:
        data = "\x1f".join(key).encode("utf-8", "surrogatepass")
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)

    def first_line(self, key: tuple[str, str, str], line: int) -> int | None:
        """The line where ``key`` was seen before, or None (then it is remembered at ``line``)."""
        d = self.digest(key)
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
        if self._db.execute("INSERT OR IGNORE INTO seen (k, line) VALUES (?, ?)", (d, line)).rowcount:
            self._pending += 1
            if self._pending >= COMMIT_EVERY:
                self._db.execute("COMMIT")
                self._pending = 0
            return None
        row = self._db.execute("SELECT line FROM seen WHERE k = ?", (d,)).fetchone()
        return int(row[0])

    def disk_bytes(self) -> int:
        """Size of the scratch database (what the set keeps outside memory)."""
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(self._db.execute("PRAGMA page_size").fetchone()[0])

    def cache_kib(self) -> int:
        return -int(self._db.execute("PRAGMA cache_size").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SeenKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
