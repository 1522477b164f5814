"""The service's OpenAPI document (``/openapi.json``) and its human rendering (``/docs``).

The document is assembled from each dialect's own fragment. ``/docs`` is rendered on the
server, with no JavaScript and nothing fetched from a CDN, so it works offline.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from calltrail import __version__

Fragment = tuple[Callable[[], dict[str, Any]], Callable[[], dict[str, Any]]]


def error_details_schema(examples: str) -> dict[str, Any]:
    """The ``details`` of an error: for each parameter or field at fault, why."""
    return {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "description": f"Per parameter or field ({examples}), the reasons it is invalid.",
    }


def event_batch_body(event: dict[str, Any], max_batch: int) -> dict[str, Any]:
    """A request body of one event or a list of 1..``max_batch`` of them."""
    batch = {"type": "array", "minItems": 1, "maxItems": max_batch, "items": event}
    return {"required": True, "content": {"application/json": {"schema": {"oneOf": [event, batch]}}}}


def build_document(fragments: list[Fragment]) -> dict[str, Any]:
    """Merge ``(paths, components)`` fragments into one OpenAPI 3.1 document."""
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "tags": ["Operations"],
                "operationId": "health",
                "summary": "Health check",
                "responses": {
                    "200": {"description": "The database is reachable."},
                    "503": {"description": "The database is unreachable."},
                },
            }
        },
    }
    components: dict[str, Any] = {"schemas": {}, "securitySchemes": {}}
    for paths_of, components_of in fragments:
        paths.update(paths_of())
        for section, entries in components_of().items():
            components.setdefault(section, {}).update(entries)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Calltrail",
            "version": __version__,
            "description": "Self-hosted call history: ingest call lifecycle events and read call logs through "
            "CometChat- and Bird-compatible APIs. Every error names the parameter at fault.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": components,
    }


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_schema_text(schema.get('items', {}))}"
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "maxLength", "default") if k in schema]
    return str(schema.get("type", "value")) + (f" ({', '.join(bounds)})" if bounds else "")


def render_docs(document: dict[str, Any]) -> str:
    """A single self-contained HTML page listing every endpoint, parameter and response."""
    esc = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Calltrail API</title><style>",
        "body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}",
        "h2{border-bottom:1px solid #ddd;margin-top:2em}code{background:#f4f4f4;padding:1px 4px}",
        "table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #e2e2e2;padding:4px 8px;",
        "text-align:left;vertical-align:top}.m{font-weight:bold;text-transform:uppercase}</style></head><body>",
        f"<h1>{esc(document['info']['title'])} API <small>{esc(document['info']['version'])}</small></h1>",
        f"<p>{esc(document['info']['description'])}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a></p>",
    ]
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            out.append(f"<h2><span class='m'>{esc(method)}</span> <code>{esc(path)}</code></h2>")
            out.append(f"<p><b>{esc(op.get('summary', ''))}</b>. {esc(op.get('description', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>")
                for p in params:
                    out.append(
                        f"<tr><td><code>{esc(p['name'])}</code>{' *' if p.get('required') else ''}</td>"
                        f"<td>{esc(p['in'])}</td><td>{esc(_schema_text(p.get('schema', {})))}</td>"
                        f"<td>{esc(p.get('description', ''))}</td></tr>"
                    )
                out.append("</table>")
            out.append("<table><tr><th>status</th><th>meaning</th></tr>")
            for status, response in op.get("responses", {}).items():
                out.append(f"<tr><td>{esc(status)}</td><td>{esc(response.get('description', ''))}</td></tr>")
            out.append("</table>")
    out.append("</body></html>")
    return "".join(out)
