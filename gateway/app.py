"""create_app(): plugins, controllers, exception mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.plugins.prometheus import PrometheusController

from gateway import __version__
from gateway.admin import CONTROLLERS
from gateway.auth.principal import ApiKeyAuthMiddleware, role_guard
from gateway.bootstrap import ensure_default_project, first_run_key
from gateway.calls.guard import RateLimiter
from gateway.carriers.twilio import wiring as twilio_wiring
from gateway.db.engine import create_engine, session_factory, sqlite_path
from gateway.db.migrate import upgrade
from gateway.db.sqlite_inline import checkpoints
from gateway.flows_service import run_flows
from gateway.health import HealthController
from gateway.livekit import wiring as livekit_wiring
from gateway.logs import configure_logging
from gateway.settings import Settings, load_settings
from gateway.web.deps import provide_db, provide_principal
from gateway.web.edge import refuse_nul_middleware
from gateway.web.limits import API_MAX_BODY
from gateway.web.observe import observe_middleware
from gateway.web.problems import EXCEPTION_HANDLERS
from gateway.web.rate_limit import api_failed_auth_limit, limiter_for, per_key_limit


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> Litestar:
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.async_database_url)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.request_limiter = limiter_for(
            engine,
            failed_auth=settings.rate_limit_failed_auth,
            per_key=settings.rate_limit_per_key,
            trusted_proxies=settings.trusted_proxies,
        )
        await upgrade(engine)
        async with app.state.sessions() as session:
            await ensure_default_project(session, settings)
            app.state.first_run_key = await first_run_key(session)
        try:
            async with (
                checkpoints(sqlite_path(settings.async_database_url)),
                run_flows(app, Path(settings.flows_dir)),
                twilio_wiring.runtime(app, settings),
                livekit_wiring.runtime(app, settings),
            ):
                yield
        finally:
            await engine.dispose()

    v1 = Router(
        path="/v1",
        route_handlers=[*CONTROLLERS, *twilio_wiring.V1_CONTROLLERS, *livekit_wiring.V1_CONTROLLERS],
        middleware=[api_failed_auth_limit, ApiKeyAuthMiddleware, per_key_limit],
        guards=[role_guard],
        dependencies={"principal": Provide(provide_principal, sync_to_thread=False)},
        security=[{"apiKey": []}],
        request_max_body_size=API_MAX_BODY,
    )
    state: dict[str, Any] = {
        "settings": settings,
        "readiness_checks": [],
        "first_run_key": None,
        "placers": {},
        "call_controls": {},
        "rate_limiter": RateLimiter(),
        "request_limiter": None,
    }
    return Litestar(
        route_handlers=[
            HealthController,
            PrometheusController,
            v1,
            *twilio_wiring.HANDLERS,
            *livekit_wiring.HANDLERS,
        ],
        lifespan=[lifespan],
        dependencies={"db": Provide(provide_db)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[observe_middleware, refuse_nul_middleware],
        state=State(state),
        openapi_config=OpenAPIConfig(
            title="Trunkline",
            version=__version__,
            description="Telephony-first SIP and IVR gateway for LiveKit: control-plane API.",
            path="/schema",
            render_plugins=[RedocRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
            components=_security_components(),
        ),
        debug=False,
        logging_config=None,
        request_max_body_size=API_MAX_BODY,
    )


def _security_components() -> Any:
    from litestar.openapi.spec import Components, SecurityScheme

    return Components(
        security_schemes={
            "apiKey": SecurityScheme(type="http", scheme="bearer", description="Trunkline API key (tlk_...)")
        }
    )
