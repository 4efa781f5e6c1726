from __future__ import annotations

import os
from pathlib import Path

from gateway.voice.cache import PromptCache, PromptKey


def key(text: str, *, rate: int = 8000, engine: str = "piper") -> PromptKey:
    return PromptKey(engine=engine, voice="v", sample_rate=rate, text=text)


def test_keys_differ_by_engine_voice_rate_and_text() -> None:
    digests = {key("hi").digest(), key("hi", rate=16000).digest(), key("hi", engine="espeak-ng").digest()}
    digests |= {PromptKey("piper", "w", 8000, "hi").digest(), key("hi!").digest()}
    assert len(digests) == 5


def test_memory_is_bounded_and_least_recently_used_goes_first() -> None:
    cache = PromptCache(max_bytes=30)
    cache.put(key("a"), b"a" * 10)
    cache.put(key("b"), b"b" * 10)
    cache.put(key("c"), b"c" * 10)
    assert cache.get(key("a")) == b"a" * 10  # now the most recently used

    cache.put(key("d"), b"d" * 10)

    assert cache.get(key("b")) is None
    assert [cache.get(key(t)) is not None for t in "acd"] == [True, True, True]
    assert cache.held_bytes == 30
    assert len(cache) == 3


def test_a_prompt_larger_than_the_cache_is_not_kept() -> None:
    cache = PromptCache(max_bytes=8)
    cache.put(key("long"), b"x" * 9)
    assert cache.get(key("long")) is None
    assert cache.held_bytes == 0


def test_stats_count_hits_and_misses() -> None:
    cache = PromptCache()
    assert cache.get(key("a")) is None
    cache.put(key("a"), b"pcm")
    assert cache.get(key("a")) == b"pcm"
    assert (cache.stats.hits, cache.stats.disk_hits, cache.stats.misses) == (1, 0, 1)


def test_the_directory_survives_a_new_cache_and_is_pruned_oldest_used_first(tmp_path: Path) -> None:
    first = PromptCache(directory=tmp_path, max_disk_bytes=25)
    first.put(key("a"), b"a" * 10)
    first.put(key("b"), b"b" * 10)
    os.utime(tmp_path / f"{key('a').digest()}.pcm", ns=(1, 1))
    os.utime(tmp_path / f"{key('b').digest()}.pcm", ns=(2, 2))

    later = PromptCache(directory=tmp_path, max_disk_bytes=25)
    assert later.get(key("a")) == b"a" * 10  # read from disk, and marked as just used
    later.put(key("c"), b"c" * 10)

    assert later.stats.disk_hits == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        f"{key(t).digest()}.pcm" for t in ("a", "c")
    )
    assert not [path for path in tmp_path.iterdir() if path.suffix == ".tmp"]
