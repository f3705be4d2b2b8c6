"""Running the web application: ``serve(app_ctx, host, port)`` blocks until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Any, Callable

from aiohttp import web

from .app import create_app

log = logging.getLogger(__name__)

#: started when the site listens; returns the function that stops it
Background = Callable[[], Callable[[], None]]


def prepare(app_ctx: Any) -> None:
    """Migrate the database if it is new and load the region's authorities into it."""
    from pipeline.incidents import sync_authorities

    db = app_ctx.ready_db()
    with db.session() as s:
        for profile in app_ctx.served:  # every region the deployment serves
            sync_authorities(s, profile)


async def _serve(
    app_ctx: Any, host: str, port: int, on_started: Callable[[str], None] | None, background: Background | None = None,
    trusted_proxies: Any = None,
) -> None:
    runner = web.AppRunner(create_app(app_ctx, trusted_proxies=trusted_proxies), access_log=log)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    stop_background = await asyncio.to_thread(background) if background is not None else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    bound = runner.addresses[0] if runner.addresses else (host, port)
    if on_started:
        on_started(f"http://{bound[0]}:{bound[1]}")
    try:
        await stop.wait()
    finally:
        if stop_background is not None:
            await asyncio.to_thread(stop_background)
        await runner.cleanup()


def serve(
    app_ctx: Any, host: str, port: int, on_started: Callable[[str], None] | None = None, background: Background | None = None,
    trusted_proxies: Any = None,
) -> None:
    """Serve until SIGINT/SIGTERM.

    ``background``: work the caller runs alongside (``cur run`` passes the scheduler): called once the
    site listens, it returns the function that stops it at shutdown. ``trusted_proxies``: addresses of
    reverse proxies whose ``X-Forwarded-For`` is believed (``cur serve --behind-proxy``).
    """
    prepare(app_ctx)
    asyncio.run(_serve(app_ctx, host, port, on_started, background, trusted_proxies))


class BackgroundServer:
    """The application served on 127.0.0.1 (a free port by default) from a thread; for tests and screenshots.

        with BackgroundServer(app_ctx) as server:
            print(server.url)
    """

    def __init__(self, app_ctx: Any, host: str = "127.0.0.1", port: int = 0, **app_options: Any):
        self.app_ctx, self.host, self.port, self.options = app_ctx, host, port, app_options
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.url = ""
        self.thread = threading.Thread(target=self._run, name="web-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(create_app(self.app_ctx, **self.options))
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, self.host, self.port).start())
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("the web server did not start within 30 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
