"""Which table keys this worker owns (its active partitions), from Faust's partition router."""

from typing import Any

from faust.types import AppT, TableT


def owner_url(app: AppT, table: TableT[Any, Any], key: Any) -> str | None:
    """`http://host:port` of the worker that owns `key`, or None before the first assignment."""
    try:
        url = app.router.key_store(table.name, key)
    except KeyError:
        return None
    return f"{url.scheme}://{url.host}:{url.port}"


def is_local(app: AppT, url: str | None) -> bool:
    canonical = app.conf.canonical_url
    return url == f"{canonical.scheme}://{canonical.host}:{canonical.port}"


def owns(table: TableT[Any, Any], key: Any) -> bool:
    """Whether `key`'s partition is active here (a standby copy is someone else's)."""
    app = table.app
    return is_local(app, owner_url(app, table, key))
