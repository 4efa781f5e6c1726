"""Audit chain heads published outside the database: an append-only JSON-lines file and the log.

A checkpoint says "project P's chain had record `seq` with hash `hash`" (and up to which seq the chain is legacy,
unkeyed). Rows deleted from the end of a chain, with `audit_heads` rolled back, still verify inside the database;
the checkpoints published before the deletion do not match any more, so `trunkline audit verify` reports it.

Checkpoints are queued on the session by `audit.append` and written only once its transaction commits (a rolled
back change publishes nothing).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event
from sqlalchemy.orm import Session

from gateway.security.keyfiles import private_file

_log = logging.getLogger("gateway.audit")
_PENDING = "audit_checkpoints"


class Checkpoint(msgspec.Struct, frozen=True):
    project_id: str
    seq: int
    hash: str
    legacy_seq: int = 0
    """Records up to this seq were written before the chain was keyed (unkeyed SHA-256)."""


@dataclass(frozen=True, slots=True)
class _Queued:
    path: Path
    checkpoint: Checkpoint


def queue(session: Session, path: Path, checkpoint: Checkpoint) -> None:
    """Publish `checkpoint` when the session's transaction commits."""
    session.info.setdefault(_PENDING, []).append(_Queued(path, checkpoint))


def publish(path: Path, checkpoints: list[Checkpoint]) -> None:
    """Append the checkpoints to the file (created 0600) and log them."""
    if not checkpoints:
        return
    private_file(path)
    lines = b"".join(msgspec.json.encode(c) + b"\n" for c in checkpoints)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, lines)
    finally:
        os.close(fd)
    for c in checkpoints:
        _log.info("audit checkpoint", extra={"project_id": c.project_id, "seq": c.seq, "hash": c.hash})


def read(path: Path, project_id: str) -> list[Checkpoint]:
    """The project's checkpoints in the file (lines that do not parse are skipped)."""
    if not path.is_file():
        return []
    found: list[Checkpoint] = []
    decoder = msgspec.json.Decoder(Checkpoint)
    with path.open("rb") as lines:
        for line in lines:
            if project_id.encode() not in line:
                continue
            try:
                checkpoint = decoder.decode(line)
            except msgspec.DecodeError:
                continue
            if checkpoint.project_id == project_id:
                found.append(checkpoint)
    return found


def project_ids(path: Path) -> set[str]:
    """Every project with a published checkpoint (a chain whose rows and head were all deleted is still here)."""
    if not path.is_file():
        return set()
    decoder = msgspec.json.Decoder(Checkpoint)
    found: set[str] = set()
    with path.open("rb") as lines:
        for line in lines:
            try:
                found.add(decoder.decode(line).project_id)
            except msgspec.DecodeError:
                continue
    return found


def _after_commit(session: Session) -> None:
    queued: list[_Queued] = session.info.pop(_PENDING, [])
    by_path: dict[Path, list[Checkpoint]] = {}
    for item in queued:
        by_path.setdefault(item.path, []).append(item.checkpoint)
    for path, checkpoints in by_path.items():
        try:
            publish(path, checkpoints)
        except OSError as error:  # the change is committed; say loudly that its checkpoint is missing
            _log.error("audit checkpoint not written", extra={"path": str(path), "error": str(error)})


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _listen() -> None:
    target: Any = Session
    if not event.contains(target, "after_commit", _after_commit):
        event.listen(target, "after_commit", _after_commit)
        event.listen(target, "after_rollback", _after_rollback)


_listen()
