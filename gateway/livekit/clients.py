"""Per-project LiveKit clients: created on first use, replaced when the credentials change, closed at shutdown.

A project's LiveKit is `Project.livekit_url/api_key/api_secret`; the default project's come from the LIVEKIT_*
settings (copied onto it at start-up, and used directly when its columns are empty).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auth.principal import DEFAULT_PROJECT_SLUG
from gateway.db.models import Project
from gateway.errors import Conflict
from gateway.settings import Settings

from .facade import LiveKit


class LiveKitNotConfigured(Conflict):
    title = "LiveKit not configured"

    def __init__(self, project: Project) -> None:
        super().__init__(
            f"LiveKit is not configured for project {project.slug!r}: set livekit_url, livekit_api_key and "
            "livekit_api_secret on the project (PATCH /v1/projects/{id}), or LIVEKIT_URL, LIVEKIT_API_KEY and "
            "LIVEKIT_API_SECRET for the default project."
        )


@dataclass(frozen=True, slots=True)
class Credentials:
    url: str
    api_key: str
    api_secret: str


def credentials_of(project: Project, settings: Settings | None = None) -> Credentials | None:
    """The project's LiveKit credentials, or None when LiveKit is not configured for it."""
    url, key, secret = project.livekit_url, project.livekit_api_key, project.livekit_api_secret
    if settings is not None and project.slug == DEFAULT_PROJECT_SLUG and not (url and key and secret):
        url, key, secret = settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret
    if not (url and key and secret):
        return None
    return Credentials(url, key, secret)


class LiveKitClients:
    """One `LiveKit` facade per project, shared by every request; `aclose()` at shutdown."""

    def __init__(self, settings: Settings | None = None, *, timeout: float = 10.0) -> None:
        self._settings = settings
        self._timeout = timeout
        self._clients: dict[str, tuple[Credentials, LiveKit]] = {}
        self._retired: list[LiveKit] = []

    def credentials(self, project: Project) -> Credentials | None:
        return credentials_of(project, self._settings)

    def configured(self, project: Project) -> bool:
        return self.credentials(project) is not None

    async def get(self, project: Project) -> LiveKit:
        """The project's client; `LiveKitNotConfigured` (409) when it has no LiveKit credentials."""
        credentials = self.credentials(project)
        if credentials is None:
            raise LiveKitNotConfigured(project)
        known = self._clients.get(project.id)
        if known is not None and known[0] == credentials:
            return known[1]
        client = await LiveKit(
            credentials.url, credentials.api_key, credentials.api_secret, timeout=self._timeout
        ).__aenter__()
        if known is not None:
            # Requests in flight may still hold the old client: close it at shutdown, not now.
            self._retired.append(known[1])
        self._clients[project.id] = (credentials, client)
        return client

    async def aclose(self) -> None:
        clients = [client for _, client in self._clients.values()] + self._retired
        self._clients.clear()
        self._retired.clear()
        for client in clients:
            await client.aclose()
