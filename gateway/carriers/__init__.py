"""Carrier adapters: each carrier's webhooks, signatures and REST client, translated into the gateway's own types."""
