"""apphost-items' app: FastAPI (ASGI), served by apphost beside WSGI apps.

``app`` is advertised in ``apphost.apps`` as ``items``; apphost sees that it
is ASGI and serves it through a2wsgi, and ``apphost_items.hooks`` claims
``/items`` for it. The mount is the app's ``root_path``, so ``url_for``
builds links under ``/items``::

    $ curl localhost:8080/items/
    {"items":[{"id":1,"name":"hammer","url":"http://localhost:8080/items/1"}, ...]}
    $ curl -d '{"name": "saw"}' -H 'Content-Type: application/json' localhost:8080/items/
    {"id":3,"name":"saw","url":"http://localhost:8080/items/3"}
    $ curl -N 'localhost:8080/items/events?interval=1'     # Server-Sent Events, one a second
    event: item
    data: {"id":1,"name":"hammer","url":"http://localhost:8080/items/1"}

apphost runs the lifespan: the store is made before the first request and
the log says when it starts and stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

__all__ = ["app"]

log = logging.getLogger("apphost_items")


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class Item(NewItem):
    id: int
    url: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """Make the store before the first request; say goodbye when the server stops."""
    log.info("items: lifespan startup")
    yield {"store": {1: "hammer", 2: "nails"}}  # request.state.store, in every request
    log.info("items: lifespan shutdown")


app = FastAPI(title="items", lifespan=lifespan)


def _item(request: Request, item_id: int, name: str) -> Item:
    return Item(id=item_id, name=name, url=str(request.url_for("get_item", item_id=item_id)))


@app.get("/")
async def list_items(request: Request) -> dict[str, list[Item]]:
    """Every item, each with its link (under the mount)."""
    store: dict[int, str] = request.state.store
    return {"items": [_item(request, i, name) for i, name in sorted(store.items())]}


@app.post("/", status_code=201)
async def add_item(new: NewItem, request: Request, response: Response) -> Item:
    """Add an item; its link is in ``Location``."""
    store: dict[int, str] = request.state.store
    item_id = max(store, default=0) + 1
    store[item_id] = new.name
    item = _item(request, item_id, new.name)
    response.headers["Location"] = item.url
    return item


@app.get("/events")
async def events(
    request: Request,
    interval: float = Query(0.5, ge=0, le=60),
    count: int = Query(0, ge=0, le=1000),
) -> StreamingResponse:
    """Server-Sent Events: each item in turn, ``interval`` seconds apart, ``count`` in all.

    ``count`` 0 means one round of the store. Each event is sent as soon as it
    is made, not when the stream ends.
    """
    store: dict[int, str] = request.state.store
    items = [_item(request, i, name) for i, name in sorted(store.items())]
    total = count or len(items)

    async def stream() -> AsyncIterator[str]:
        for n in range(total):
            if n:
                await asyncio.sleep(interval)
            item = items[n % len(items)]
            yield f"event: item\ndata: {json.dumps(item.model_dump())}\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@app.get("/{item_id}")
async def get_item(item_id: int, request: Request) -> Item:
    """One item, or 404."""
    store: dict[int, str] = request.state.store
    if item_id not in store:
        raise HTTPException(status_code=404, detail=f"no item {item_id}")
    return _item(request, item_id, store[item_id])
