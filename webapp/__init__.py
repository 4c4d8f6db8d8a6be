"""ProfileFix: see and fix how Exchange/Entra and SharePoint show your Microsoft 365 profile.

`create_app()` is the composition root: settings → extensions → blueprints → handlers.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import redis
import requests
from cachelib import FileSystemCache
from flask import Flask, request
from flask.templating import Environment
from flask_babel import get_locale
from jinja2.bccache import Bucket, BytecodeCache
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import about, wording
from webapp.changes.log import HistoryLog
from webapp.extensions import babel, csrf, limiter, select_locale, server_session
from webapp.microsoft import throttle
from webapp.microsoft.requester import CallOptions
from webapp.microsoft.session import bound_concurrency, build_session, decorated_user_agent
from webapp.sealing import Sealer
from webapp.settings import Settings, from_environment
from webapp.store import FileStore, RedisStore, connect_redis
from webapp.web import observability


class _CompiledTemplates(BytecodeCache):
    """Templates compiled once per process and shared by every app built in it (the tests build
    hundreds; compiling them again was a third of an integration test's CPU). Jinja keeps each
    template's source checksum with its code, so an edited template is compiled again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED_TEMPLATES = _CompiledTemplates()


class ProfileFix(Flask):
    """Flask, with one log line (not a traceback per request) while the record store is down,
    and templates compiled once per process."""

    def create_jinja_environment(self) -> Environment:
        env = super().create_jinja_environment()
        env.bytecode_cache = _COMPILED_TEMPLATES
        return env

    def log_exception(
        self, exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None]
    ) -> None:
        if isinstance(exc_info[1], redis.RedisError):
            self.logger.error(
                "record store unavailable on %s %s: %s",
                request.method,
                request.path,
                type(exc_info[1]).__name__,
            )
            return
        super().log_exception(exc_info)


def _template_folder() -> str:
    """Top-level `templates/` in a checkout; shipped inside the package in a wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "templates", here / "_templates"):
        if candidate.is_dir():
            return str(candidate)
    raise RuntimeError("templates/ not found next to the webapp package")


def create_app(
    settings: Settings | None = None,
    http: requests.Session | None = None,
    instance_path: str | None = None,
) -> Flask:
    """Build the app. Without settings they come from the environment (and `.env`);
    with no CLIENT_ID there, the app runs on the built-in demo tenant. Local sessions and
    records live under `instance_path` (default: Flask's instance folder).

    :raise SettingsError: when the given settings are contradictory or unsafe.
    :raise SystemExit: with one line, when those from the environment are.
    """
    app = ProfileFix(__name__, template_folder=_template_folder(), instance_path=instance_path)
    if settings is None:
        settings = from_environment()
    if settings is None:
        # The one place that wires demo mode (DEVELOPERS.md: one code path).
        from webapp import demo

        settings, http = demo.wire(app)
    if http is None:
        http = build_session(
            ca_bundle=settings.requests_ca_bundle,
            user_agent=decorated_user_agent(settings.organisation_name),
        )
    _configure(app, settings, http)
    return app


def _configure(app: Flask, settings: Settings, http: requests.Session) -> None:
    app.extensions["settings"] = settings
    app.extensions["http"] = http
    store = _store(app, settings)
    app.extensions["store"] = store
    app.extensions["history"] = HistoryLog(
        store, max_entries=settings.history_max_entries, days=settings.history_days
    )
    # Transport policy for Graph/SharePoint calls (timeouts, retry budget, throttle holds per
    # user or app-wide shared by all instances through Redis, a cap on calls in flight per
    # service).
    app.extensions["call_options"] = CallOptions(
        gate=throttle.gate_for(store, on_wait=observability.record_throttle_wait),
        on_call=observability.record_call,
    )
    bound_concurrency(http, settings)
    cookie_prefix = "__Host-" if settings.secure_cookies else ""
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024 + 64 * 1024,
        SESSION_COOKIE_NAME=f"{cookie_prefix}session",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_PERMANENT=True,
        SESSION_REFRESH_EACH_REQUEST=True,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        SESSION_KEY_PREFIX="profilefix:session:",
        AUTH_FLOW_COOKIE=f"{cookie_prefix}authflow",
        LANGUAGE_COOKIE=f"{cookie_prefix}language",
        WTF_CSRF_TIME_LIMIT=settings.session_max_hours * 3600,
        WTF_CSRF_SSL_STRICT=True,
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="profilefix",
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
    )
    if isinstance(store, RedisStore):  # settings.redis_url is set
        app.config.update(
            SESSION_TYPE="redis",
            SESSION_REDIS=store.client,
            RATELIMIT_STORAGE_URI=settings.redis_url,
            RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        )
    else:
        app.config.update(
            SESSION_TYPE="cachelib",
            SESSION_CACHELIB=FileSystemCache(
                os.path.join(app.instance_path, "sessions"), threshold=10_000
            ),
            RATELIMIT_STORAGE_URI="memory://",
        )
    if settings.public_url:
        app.config["SERVER_NAME"] = None
        app.config["PREFERRED_URL_SCHEME"] = settings.public_url.split("://")[0]
        # Any other Host header gets a 400 instead of reaching the app (security.md A12).
        app.config["TRUSTED_HOSTS"] = [urlsplit(settings.public_url).hostname]
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        proxied = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
        app.wsgi_app = proxied  # type: ignore[method-assign]  # Flask's way to add middleware

    from webapp.web import errors

    server_session.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    errors.keep_named_waits(app)  # before the limiter: see its docstring
    limiter.init_app(app)
    observability.init_app(app)

    from webapp.auth import guard
    from webapp.auth import views as auth_views
    from webapp.helpdesk import views as helpdesk
    from webapp.history import views as history
    from webapp.overview import views as overview
    from webapp.photo import views as photo
    from webapp.profile import views as profile
    from webapp.web import health, i18n, middleware, static_files, ticket

    @app.context_processor
    def _page_context() -> dict[str, object]:
        return {
            "demo": settings.demo,
            "version": about.VERSION,
            "current_language": str(get_locale() or "en"),
            "vocabulary": wording,
        }

    # Every moment a page shows, in the person's own time zone (webapp/wording.py).
    app.add_template_filter(wording.local_time, "local_time")
    middleware.init_app(app)
    static_files.init_app(app)
    guard.init_app(app)
    errors.init_app(app)
    ticket.init_app(app)
    for module in (
        auth_views,
        overview,
        i18n,
        photo,
        health,
        profile,
        history,
        helpdesk,
    ):
        app.register_blueprint(module.bp)


def _store(app: Flask, settings: Settings) -> RedisStore | FileStore:
    sealer = Sealer.from_secret(settings.secret_key, "records")
    if settings.redis_url:
        return RedisStore(connect_redis(settings.redis_url), sealer)
    return FileStore(os.path.join(app.instance_path, "records"), sealer=sealer)
