"""The service's OpenAPI document (``/openapi.json``) and its human rendering (``/docs``).

The document is assembled from each dialect's own fragment. ``/docs`` is rendered on the
server, with no JavaScript and nothing fetched from a CDN, so it works offline.
"""

from __future__ import annotations

import copy
import html
import re
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
    add_common_responses(paths)
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


_RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
_RATE_HEADERS = {
    "Retry-After": _RETRY_AFTER,
    "X-RateLimit-Limit": {"description": "The credential's burst size.", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left right now.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Seconds until the bucket is full.", "schema": {"type": "integer"}},
}
#: Statuses any operation can answer before (or besides) its own logic, with the headers they carry.
COMMON_RESPONSES: dict[str, tuple[str, dict[str, Any]]] = {
    "405": ("The path exists but does not serve this method (`Allow` lists those it does).", {}),
    "429": ("The credential's rate limit is used up (`CALLTRAIL_RATE_LIMIT`).", _RATE_HEADERS),
    "431": ("A header line is over 16 KiB, or all headers over 64 KiB.", {}),
    "503": (
        "The server is at capacity (load shed at once) or the database is unavailable.",
        {"Retry-After": _RETRY_AFTER},
    ),
}


def add_common_responses(paths: dict[str, Any]) -> None:
    """Document, on every operation, the statuses the server answers before routing (405, 429,
    431, 503) and 413 where a body is read, in the envelope of the operation's own errors."""
    for path, operations in paths.items():
        if path in ("/healthz", "/metrics"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            content = _error_content(responses)
            statuses = dict(COMMON_RESPONSES)
            if "requestBody" in operation:
                statuses["413"] = ("The body is larger than the endpoint accepts.", {})
            for status, (description, headers) in statuses.items():
                if status in responses:
                    continue
                response: dict[str, Any] = {"description": description}
                if content is not None:
                    response["content"] = copy.deepcopy(content)
                if headers:
                    response["headers"] = headers
                responses[status] = response


def _error_content(responses: dict[str, Any]) -> dict[str, Any] | None:
    """The content of the operation's first documented error: its dialect's envelope."""
    for status, response in sorted(responses.items()):
        if status.startswith(("4", "5")) and isinstance(response, dict) and "content" in response:
            return dict(response["content"])
    return None


_CODE = re.compile(r"`([^`]+)`")


def _prose(text: str) -> str:
    """Escape ``text`` for HTML and show Markdown code spans as ``<code>``."""
    return _CODE.sub(lambda match: f"<code>{match.group(1)}</code>", html.escape(text))


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_schema_text(schema.get('items', {}))}"
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "maxLength", "default") if k in schema]
    return str(schema.get("type", "value")) + (f" ({', '.join(bounds)})" if bounds else "")


def _link(schema: dict[str, Any]) -> str:
    """A schema as HTML: a link to a named schema, else its short description."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f"<a href='#schema-{html.escape(name)}'>{html.escape(name)}</a>"
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return " or ".join(_link(option) for option in schema[combinator])
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return "list of " + _link(schema["items"])
    if schema.get("type") == "object" and "properties" in schema:
        return "object: " + ", ".join(f"<code>{html.escape(name)}</code>" for name in schema["properties"])
    return html.escape(_schema_text(schema))


def _body_schema(holder: dict[str, Any]) -> dict[str, Any] | None:
    content = holder.get("content", {})
    media = content.get("application/json") or next(iter(content.values()), None)
    return media.get("schema") if isinstance(media, dict) else None


def _schema_section(name: str, schema: dict[str, Any]) -> list[str]:
    """One component schema: its description and a table of its fields."""
    out = [f"<h3 id='schema-{html.escape(name)}'>{html.escape(name)}</h3>"]
    if schema.get("description"):
        out.append(f"<p>{_prose(str(schema['description']))}</p>")
    properties = schema.get("properties", {})
    if not properties:
        out.append(f"<p>{_link({k: v for k, v in schema.items() if k != 'description'})}</p>")
        return out
    required = set(schema.get("required", []))
    out.append("<table><tr><th>field</th><th>type</th><th>description</th></tr>")
    for field, spec in properties.items():
        mark = " *" if field in required else ""
        description = _prose(str(spec.get("description", ""))) if isinstance(spec, dict) else ""
        kind = _link(spec) if isinstance(spec, dict) else ""
        out.append(f"<tr><td><code>{html.escape(field)}</code>{mark}</td><td>{kind}</td><td>{description}</td></tr>")
    out.append("</table>")
    return out


def render_docs(document: dict[str, Any]) -> str:
    """A single self-contained HTML page listing every endpoint with its parameters, request
    body and responses (each with its schema), then every schema field by field."""
    esc = html.escape
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Calltrail API</title><style>",
        "body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}",
        "h2{border-bottom:1px solid #ddd;margin-top:2em}code{background:#f4f4f4;padding:1px 4px}",
        "table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #e2e2e2;padding:4px 8px;",
        "text-align:left;vertical-align:top}.m{font-weight:bold;text-transform:uppercase}</style></head><body>",
        f"<h1>{esc(document['info']['title'])} API <small>{esc(document['info']['version'])}</small></h1>",
        f"<p>{_prose(document['info']['description'])}</p>",
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. Fields marked * are required.</p>",
    ]
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            out.append(f"<h2><span class='m'>{esc(method)}</span> <code>{esc(path)}</code></h2>")
            out.append(f"<p><b>{_prose(op.get('summary', ''))}</b>. {_prose(op.get('description', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                out.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>")
                for p in params:
                    out.append(
                        f"<tr><td><code>{esc(p['name'])}</code>{' *' if p.get('required') else ''}</td>"
                        f"<td>{esc(p['in'])}</td><td>{esc(_schema_text(p.get('schema', {})))}</td>"
                        f"<td>{_prose(p.get('description', ''))}</td></tr>"
                    )
                out.append("</table>")
            body = op.get("requestBody")
            schema = _body_schema(body) if isinstance(body, dict) else None
            if schema is not None:
                out.append(f"<p>Request body{' *' if body.get('required') else ''}: {_link(schema)}</p>")
            out.append("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>")
            for status, response in op.get("responses", {}).items():
                answer = _body_schema(response)
                shown = _link(answer) if answer is not None else ""
                out.append(
                    f"<tr><td>{esc(status)}</td><td>{_prose(response.get('description', ''))}</td><td>{shown}</td></tr>"
                )
            out.append("</table>")
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        out.append("<h2>Schemas</h2>")
        for name, schema in schemas.items():
            out += _schema_section(name, schema)
    out.append("</body></html>")
    return "".join(out)
