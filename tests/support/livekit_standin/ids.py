"""Identifiers in LiveKit's shape: a type prefix and 12 characters of the shortuuid base-57 alphabet."""

from __future__ import annotations

import hashlib
import random
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ID_LENGTH = 12

ROOM = "RM_"
PARTICIPANT = "PA_"
SIP_TRUNK = "ST_"
SIP_DISPATCH_RULE = "SDR_"
SIP_CALL = "SCL_"
SIP_TRANSFER = "STR_"
AGENT_DISPATCH = "AD_"
AGENT_JOB = "AJ_"
EGRESS = "EG_"
WEBHOOK_EVENT = "EV_"


def new_id(prefix: str) -> str:
    """A fresh random identifier such as `RM_8kQ2...`; an empty prefix gives the bare 12 characters."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def hashed_id(prefix: str, seed: str) -> str:
    """A deterministic identifier: the same seed always gives the same id (LiveKit derives dispatch ids so)."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    return prefix + "".join(rng.choice(ALPHABET) for _ in range(ID_LENGTH))
