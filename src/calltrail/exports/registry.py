"""Every export format, by the name ``?format=`` takes: a new one is a module plus one line."""

from __future__ import annotations

from calltrail.exports.base import ExportFormat
from calltrail.exports.csv import CSV
from calltrail.exports.ndjson import NDJSON

FORMATS: dict[str, ExportFormat] = {"ndjson": NDJSON(), "csv": CSV()}
