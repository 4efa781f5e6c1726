"""A cache of synthesized prompts, so an IVR prompt said a thousand times is synthesized once.

Keyed by (engine, voice, sample rate, text); the value is the prompt's PCM16 audio. Memory holds the most
recently used prompts up to `max_bytes`; an optional directory keeps them across restarts (and between worker
processes), pruned oldest-used first past `max_disk_bytes`. Files are written whole (temporary name, then
rename), so a reader never sees half a prompt.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import msgspec


class PromptKey(msgspec.Struct, frozen=True):
    engine: str
    voice: str
    sample_rate: int
    text: str

    def digest(self) -> str:
        return hashlib.sha256(msgspec.json.encode(self)).hexdigest()


class CacheStats(msgspec.Struct):
    hits: int = 0
    disk_hits: int = 0
    misses: int = 0


class PromptCache:
    """LRU in memory, optionally backed by a directory. Safe to share between streams and threads."""

    def __init__(
        self,
        *,
        max_bytes: int = 32 * 1024 * 1024,
        directory: Path | None = None,
        max_disk_bytes: int = 512 * 1024 * 1024,
    ) -> None:
        self.max_bytes = max_bytes
        self.directory = directory
        self.max_disk_bytes = max_disk_bytes
        self.stats = CacheStats()
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def held_bytes(self) -> int:
        return self._held

    def get(self, key: PromptKey) -> bytes | None:
        digest = key.digest()
        with self._lock:
            found = self._entries.get(digest)
            if found is not None:
                self._entries.move_to_end(digest)
                self.stats.hits += 1
                return found
        found = self._read_disk(digest)
        with self._lock:
            if found is None:
                self.stats.misses += 1
                return None
            self.stats.disk_hits += 1
            self._remember(digest, found)
        return found

    def put(self, key: PromptKey, pcm: bytes) -> None:
        digest = key.digest()
        with self._lock:
            self._remember(digest, pcm)
        self._write_disk(digest, pcm)

    def _remember(self, digest: str, pcm: bytes) -> None:
        if len(pcm) > self.max_bytes:
            return
        previous = self._entries.pop(digest, None)
        self._held -= len(previous) if previous is not None else 0
        self._entries[digest] = pcm
        self._held += len(pcm)
        while self._held > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._held -= len(evicted)

    def _path(self, digest: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{digest}.pcm"

    def _read_disk(self, digest: str) -> bytes | None:
        path = self._path(digest)
        if path is None:
            return None
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # the file's mtime is its last use: pruning drops the least recently used
        return data

    def _write_disk(self, digest: str, pcm: bytes) -> None:
        path = self._path(digest)
        if path is None or self.directory is None:
            return
        handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".prompt-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(pcm)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._prune_disk()

    def _prune_disk(self) -> None:
        assert self.directory is not None
        files = []
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".pcm"):
                with contextlib.suppress(FileNotFoundError):
                    stat = entry.stat()
                    files.append((stat.st_mtime_ns, stat.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, name in sorted(files):
            if total <= self.max_disk_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            total -= size
