"""The interactive API docs, served with no internet: Swagger UI's assets come from the
``swagger-ui-bundle`` package, and the response headers every route carries."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from service.http_guard import HeadersFor

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"

# JSON answers need no content of their own: nothing may load, and no page may frame them.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _common_headers(policy: str) -> dict[str, str]:
    return {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
            "Content-Security-Policy": policy, "Referrer-Policy": "no-referrer"}


def docs_policy(page: str) -> str:
    """The docs page may run its own assets and the one inline script that starts Swagger
    UI (named by its hash), and call this API; nothing from elsewhere."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page))
    return (f"default-src 'none'; script-src 'self' {hashes}; "
            # Swagger UI sets style attributes on its elements as it renders.
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def mount_docs(app: FastAPI) -> HeadersFor:
    """Serve /docs and its assets; answer which headers a path's responses carry."""
    app.mount(ASSETS_PATH, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    page = bytes(get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - docs",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png").body).decode()

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    data = {**_common_headers(API_POLICY), "Cache-Control": "no-store"}
    page_headers = {**data, **_common_headers(docs_policy(page))}
    # The assets are the package's files, the same for everyone: they may be cached.
    asset_headers = _common_headers(API_POLICY)

    def headers_for(path: str) -> dict[str, str]:
        if path.startswith(ASSETS_PATH + "/"):
            return asset_headers
        return page_headers if path == DOCS_PATH else data

    return headers_for
