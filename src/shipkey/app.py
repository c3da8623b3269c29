"""The web application: ``create_app(settings)`` wires settings, database, storage and routes."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.responses import HTMLResponse, JSONResponse, Response

from shipkey import __version__
from shipkey.admin.auth import bearer_admin
from shipkey.admin_ui import routes as admin_ui_routes
from shipkey.audit import routes as audit_routes
from shipkey.catalog import routes as catalog_routes
from shipkey.catalog import upload_routes
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads import routes as download_routes
from shipkey.errors import Forbidden, error_response, exception_handlers
from shipkey.fulfilment import routes as access_routes
from shipkey.hooks import routes as hook_routes
from shipkey.http import openapi
from shipkey.http.deps import get_client_ip
from shipkey.http.fast_lane import FastLane
from shipkey.http.methods import method_not_allowed
from shipkey.http.middleware import BodyLimitMiddleware, Foreground, ForegroundMiddleware
from shipkey.http.net import within
from shipkey.imports import routes as import_routes
from shipkey.jobs.worker import background_worker
from shipkey.licensing import foreign as foreign_keys
from shipkey.licensing import routes as license_routes
from shipkey.licensing import sightings as license_sightings
from shipkey.licensing.rate_limits import LicenseRateLimits
from shipkey.licensing.signing_keys import signing_key_store
from shipkey.mail import routes as mail_routes
from shipkey.metrics import Metrics
from shipkey.payments import routes as payment_routes
from shipkey.portal import routes as portal_routes
from shipkey.privacy import routes as privacy_routes
from shipkey.releases import pypi_routes
from shipkey.releases import routes as release_routes
from shipkey.releases.catalog import ReleaseCatalog
from shipkey.risk import routes as risk_routes
from shipkey.sales import routes as order_routes
from shipkey.storage import (
    LocalStorage,
    ObjectNotFound,
    Storage,
    StorageError,
    StorageFull,
    storage_for,
)
from shipkey.web.render import page_headers

log = logging.getLogger(__name__)

# Streamed file uploads are the only bodies allowed past the JSON size limit.
UPLOAD_PATHS = (
    r"^/(api/admin/(products/[^/]+/file|uploads/[^/]+|releases/[^/]+/artifacts)"
    r"|admin/products/[^/]+/file|admin/releases/[^/]+/artifacts)$"
)


class ConfigurationError(RuntimeError):
    """Settings that cannot work together; raised at start-up, never per request."""


def check_settings(settings: Settings, storage: Storage) -> None:
    local = isinstance(storage, LocalStorage)
    if settings.download_mode == "redirect" and local:
        raise ConfigurationError(
            "SHIPKEY_DOWNLOAD_MODE=redirect needs S3 storage (SHIPKEY_STORAGE_URL=s3://…)."
        )
    if settings.download_mode == "x-accel" and not local:
        raise ConfigurationError(
            "SHIPKEY_DOWNLOAD_MODE=x-accel needs local storage that nginx can read."
        )


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    storage: Storage | None = None,
    run_worker: bool = False,
    fast_lane: bool = True,
) -> FastLane:
    """A shipkey app for these settings. Pass ``db``/``storage`` to share them (tests, CLI);
    ``run_worker`` runs the background worker in a thread while the app is up. License
    validation and Stripe's webhook are answered in the fast lane (:mod:`shipkey.http.fast_lane`,
    the ASGI app returned, in front of the FastAPI app) unless ``fast_lane`` is false or
    OpenTelemetry is on (a traced request needs the framework's layers)."""
    database = db or Database(settings.resolved_database_url)
    files = storage or storage_for(settings)
    check_settings(settings, files)

    foreground = Foreground()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with (
            foreign_keys.watching(database),
            background_worker(settings, database, files, enabled=run_worker, foreground=foreground),
        ):
            yield
            license_sightings.flush(
                database, settings.risk_validation_networks
            )  # what validations noted in the last seconds
        if db is None:
            database.dispose()

    # The outermost first: the embedded worker gives way to requests being worked on.
    middleware = [Middleware(BodyLimitMiddleware, exempt=UPLOAD_PATHS)]
    if run_worker:
        middleware.insert(0, Middleware(ForegroundMiddleware, foreground=foreground))
    handlers = exception_handlers() | {
        405: method_not_allowed,
        StorageError: _storage_error,
        ClientDisconnect: _client_gone,
    }
    telemetry = _telemetry()
    app = FastAPI(
        title="shipkey",
        version=__version__,
        summary="Delivers digital products the moment they are paid for.",
        lifespan=lifespan,
        telemetry=telemetry,
        middleware=middleware,
        exception_handlers=handlers,
        docs_url=None,
        redoc_url=None,
    )
    openapi.install(app)
    lane = FastLane(app, middleware=middleware, handlers=handlers)
    app.state.settings = settings
    app.state.db = database
    app.state.storage = files
    app.state.metrics = Metrics()
    app.state.signing_keys = signing_key_store(settings.resolved_data_dir)
    app.state.release_catalog = ReleaseCatalog(database)
    app.state.license_rate_limits = LicenseRateLimits(
        enabled=settings.rate_limits_enabled, storage=settings.rate_limit_storage
    )

    # Routes are matched in order: the one programs call at every start comes first. It and
    # Stripe's webhook, which takes bursts, are answered in the fast lane (see fast_lane).
    hot = [
        license_routes.validate_router,
        release_routes.latest_router,
        payment_routes.webhook_router,
    ]
    for router in hot:
        app.include_router(router)
        if fast_lane and not any(telemetry.values()):
            for route in router.routes:
                if isinstance(route, APIRoute):
                    lane.add(route)
    app.include_router(catalog_routes.router)
    app.include_router(upload_routes.router)
    app.include_router(risk_routes.router)
    app.include_router(order_routes.router)
    app.include_router(order_routes.customers_router)
    app.include_router(order_routes.key_pool_router)
    app.include_router(import_routes.router)
    app.include_router(download_routes.router)
    app.include_router(download_routes.admin_router)
    app.include_router(license_routes.router)
    app.include_router(license_routes.admin_router)
    app.include_router(mail_routes.router)
    app.include_router(hook_routes.router)
    app.include_router(payment_routes.router)
    app.include_router(payment_routes.admin_router)
    app.include_router(access_routes.router)
    app.include_router(release_routes.router)
    app.include_router(release_routes.admin_router)
    app.include_router(pypi_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(privacy_routes.router)
    app.include_router(privacy_routes.portal_router)
    portal_routes.install(app)
    admin_ui_routes.install(app)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        """The API documentation, with the headers of every other page (never framed, …)."""
        page = get_swagger_ui_html(openapi_url="/openapi.json", title="shipkey - Swagger UI")
        page.headers.update(page_headers(request))
        return page

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        page = get_redoc_html(openapi_url="/openapi.json", title="shipkey - ReDoc")
        page.headers.update(page_headers(request))
        return page

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            **openapi.errors(
                (403, "Neither an admin token nor an allowed network (`FORBIDDEN`)."),
                (503, "The admin token could not be checked (`DATABASE_UNAVAILABLE`)."),
            ),
        },
    )
    def metrics(request: Request) -> Response:
        """The Prometheus text format, to an admin bearer token or a client address in
        ``SHIPKEY_METRICS_ALLOW`` (403 ``FORBIDDEN`` otherwise)."""
        if not within(get_client_ip(request), settings.metrics_networks) and (
            bearer_admin(request) is None
        ):
            raise Forbidden("The metrics need an admin token or an allowed network.")
        registry: Metrics = request.app.state.metrics
        return Response(registry.render(), media_type=registry.content_type)

    return lane


async def _storage_error(_request: Request, exc: StorageError) -> JSONResponse:
    if isinstance(exc, ObjectNotFound):
        return error_response("The file is missing from storage.", "FILE_MISSING", 404)
    if isinstance(exc, StorageFull):
        log.error("storage is full: %s", exc)
        return error_response(
            "The server's disk is full; nothing was kept. Try again later.",
            "INSUFFICIENT_STORAGE",
            507,
        )
    log.error("storage failed: %s", exc)
    return error_response(
        "The file storage is not available; try again later.", "STORAGE_UNAVAILABLE", 503
    )


async def _client_gone(_request: Request, _exc: ClientDisconnect) -> JSONResponse:
    return error_response("The client closed the connection.", "CLIENT_DISCONNECTED", 400)


def _telemetry() -> TelemetryConfig:
    """FastAPI's OpenTelemetry support, on when OpenTelemetry is configured (``OTEL_*`` in the
    environment). Off, FastAPI does not look for providers on every request."""
    wanted = any(name.startswith("OTEL_") for name in os.environ)
    return {"tracing": wanted, "metrics": wanted, "logs": wanted}


# A young-generation collection runs after this many new container objects instead of 700:
# one request allocates a few hundred, so the default collected several times a request.
GC_YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Keep the garbage collector off what start-up built, once a server's app is made.

    The app, its routes, models and imported modules are a few hundred thousand objects that
    live as long as the process. Left in the collector's generations, every full collection
    walks them all: a pause of up to 100 ms with every request in flight waiting, which was most
    of the p99 latency under load (see bench/README.md). ``gc.freeze()`` moves them to the
    permanent generation; collections then only look at what requests allocate.
    """
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def create_app_from_env() -> FastLane:
    """The factory ASGI servers call (``shipkey serve`` uses it), once per worker process."""
    app = create_app(Settings(), run_worker=True)
    settle_heap()
    return app
