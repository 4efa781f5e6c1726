"""Pure audio helpers over numpy: resampling, G.711 mu-law, and the phone channel a caller's line applies.

Samples are mono. PCM is signed 16-bit (`numpy.int16`); mu-law is one byte per sample (`numpy.uint8`).
Resampling uses libsoxr (the `soxr` package), the resampler sox itself is built around.
"""

from __future__ import annotations

import numpy as np
import soxr
from numpy.typing import NDArray

PHONE_RATE = 8000
"""G.711 telephone lines carry 8,000 samples a second."""

Pcm16 = NDArray[np.int16]
MuLaw = NDArray[np.uint8]

_BIAS = 0x21  # 0x84 >> 2: the G.711 bias on the 14-bit magnitude sox encodes from
_CLIP = 8159  # largest 14-bit magnitude mu-law can represent
_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def as_pcm16(samples: NDArray[np.floating] | Pcm16) -> Pcm16:
    """Float samples in [-1, 1] (or int16 already) as int16 PCM, clipped, rounded to the nearest step."""
    if samples.dtype == np.int16:
        return samples.astype(np.int16, copy=False)
    scaled = np.rint(np.asarray(samples, dtype=np.float64) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def as_float(samples: Pcm16) -> NDArray[np.float32]:
    """int16 PCM as float32 in [-1, 1)."""
    return samples.astype(np.float32) / np.float32(32768.0)


def resample(samples: Pcm16, from_rate: int, to_rate: int) -> Pcm16:
    """Resample int16 PCM with libsoxr at high quality (band-limited, so no aliasing on the way down)."""
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.int16, copy=True)
    out = soxr.resample(samples.astype(np.int16, copy=False), from_rate, to_rate, quality="HQ")
    return np.asarray(out, dtype=np.int16)


def mulaw_encode(samples: Pcm16) -> MuLaw:
    """G.711 mu-law: 16-bit PCM to one byte a sample, as sox encodes it (rounded to 14 bits, bias 0x21)."""
    pcm = np.minimum((samples.astype(np.int32) + 2) >> 2, 8191)  # to 14 bits, rounding half up
    negative = pcm < 0
    magnitude = np.minimum(np.where(negative, -pcm, pcm), _CLIP) + _BIAS
    segment = np.searchsorted(_SEGMENT_ENDS, magnitude, side="left")
    mantissa = (magnitude >> (segment + 1)) & 0x0F
    code = np.where(segment >= len(_SEGMENT_ENDS), 0x7F, (segment << 4) | mantissa)
    mask = np.where(negative, 0x7F, 0xFF)
    return (code ^ mask).astype(np.uint8)


def mulaw_decode(codes: MuLaw) -> Pcm16:
    """G.711 mu-law bytes back to 16-bit PCM (the standard expansion table)."""
    inverted = ~codes.astype(np.int32) & 0xFF
    segment = (inverted & 0x70) >> 4
    magnitude = (((inverted & 0x0F) << 3) + 0x84) << segment
    value = magnitude - 0x84
    return np.where(inverted & 0x80, -value, value).astype(np.int16)


def phone_channel(samples: Pcm16, sample_rate: int) -> Pcm16:
    """What a caller's line does to audio: resample to 8 kHz, encode mu-law, decode. Returns 8 kHz PCM."""
    narrow = resample(samples, sample_rate, PHONE_RATE)
    return mulaw_decode(mulaw_encode(narrow))
