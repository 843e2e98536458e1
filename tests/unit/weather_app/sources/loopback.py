"""A fake HTTP server on a free 127.0.0.1 port, for the sources' adapters."""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web


@contextlib.asynccontextmanager
async def serving(
    route: str, handle: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> AsyncIterator[str]:
    """Answer GET `route` with `handle` while inside; yields the server's `http://host:port`."""
    application = web.Application()
    application.router.add_get(route, handle)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def cut_short(request: web.Request, start: bytes) -> web.StreamResponse:
    """A 200 whose Content-Length promises more than `start`, the connection closed after it."""
    response = web.StreamResponse(status=200)
    response.content_length = 100_000
    response.content_type = "application/json"
    await response.prepare(request)
    await response.write(start)
    assert request.transport is not None
    request.transport.close()
    return response
