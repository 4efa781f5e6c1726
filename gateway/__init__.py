"""Trunkline: a telephony-first SIP and IVR gateway for LiveKit."""

__version__ = "0.1.0"
