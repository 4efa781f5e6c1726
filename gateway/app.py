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
from gateway.auth.principal import role_guard
from gateway.bootstrap import first_run_key, start_up
from gateway.calls.guard import CallRateLimit
from gateway.calls.retention import retention_task
from gateway.calls.store import CallStore
from gateway.carriers.twilio import wiring as twilio_wiring
from gateway.db.database import Database
from gateway.db.engine import sqlite_path
from gateway.db.migrate import upgrade
from gateway.db.sqlite_inline import checkpoints
from gateway.flows_service import run_flows
from gateway.health import HealthController
from gateway.livekit import wiring as livekit_wiring
from gateway.logs import configure_logging
from gateway.services import Services
from gateway.settings import Settings, load_settings
from gateway.web.deps import ApiKeyAuthMiddleware, RequestSession, provide_db, provide_principal
from gateway.web.edge import refuse_nul_middleware
from gateway.web.limits import API_MAX_BODY
from gateway.web.observe import observe_middleware
from gateway.web.openapi_problems import schema_router
from gateway.web.problems import EXCEPTION_HANDLERS
from gateway.web.rate_limit import api_failed_auth_limit, limiter_for, per_key_limit


def create_app(settings: Settings | None = None, *, configure_logs: bool = True) -> Litestar:
    settings = settings or load_settings()
    if configure_logs:
        configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        database = Database.for_settings(settings)
        app.state.request_limiter = limiter_for(
            database.engine,
            failed_auth=settings.rate_limit_failed_auth,
            per_key=settings.rate_limit_per_key,
            trusted_proxies=settings.trusted_proxies,
        )
        await upgrade(database.engine)
        async with database.session() as session:
            await start_up(session, settings)
            app.state.first_run_key = await first_run_key(session)
        store = CallStore(database)
        app.state.services = Services(
            settings,
            database,
            store,
            call_rate=CallRateLimit(app.state.request_limiter.counter.hit),
            clock=app.state.get("clock"),
        )
        store.start()
        try:
            async with (
                checkpoints(sqlite_path(settings.async_database_url)),
                run_flows(
                    app, Path(settings.flows_dir), allow_failing_tests=settings.flows_allow_failing_tests
                ),
                twilio_wiring.runtime(app, settings),
                livekit_wiring.runtime(app, settings),
                retention_task(database, settings.call_retention_days),
            ):
                yield
        finally:
            await store.stop()
            await database.dispose()

    v1 = Router(
        path="/v1",
        route_handlers=[*CONTROLLERS, *twilio_wiring.V1_CONTROLLERS],
        middleware=[RequestSession(), api_failed_auth_limit, ApiKeyAuthMiddleware, per_key_limit],
        guards=[role_guard],
        dependencies={"principal": Provide(provide_principal, sync_to_thread=False)},
        security=[{"apiKey": []}],
        request_max_body_size=API_MAX_BODY,
    )
    state: dict[str, Any] = {"first_run_key": None, "request_limiter": None}
    """`services` (gateway.services) is added at start-up; tests may set `clock` before."""
    return Litestar(
        route_handlers=[
            HealthController,
            PrometheusController,
            v1,
            *twilio_wiring.HANDLERS,
            *livekit_wiring.HANDLERS,
        ],
        lifespan=[lifespan],
        dependencies={"db": Provide(provide_db, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[observe_middleware, refuse_nul_middleware],
        state=State(state),
        openapi_config=OpenAPIConfig(
            title="Trunkline",
            version=__version__,
            description="Telephony-first SIP and IVR gateway for LiveKit: control-plane API.",
            path="/schema",
            openapi_router=schema_router("/schema", twilio_wiring.FORM_BODIES, twilio_wiring.FORM_EXAMPLE),
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
