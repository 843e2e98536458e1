"""Which table keys this worker owns (its active partitions), from Faust's partition router."""

from collections.abc import Iterator
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


def owned_keys(table: TableT[Any, Any]) -> Iterator[Any]:
    """Keys held locally whose partition is active here (standby copies are someone else's)."""
    app = table.app
    for key in list(table.keys()):
        if is_local(app, owner_url(app, table, key)):
            yield key
