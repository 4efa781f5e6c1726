"""API keys, roles and project scoping."""
