"""The SDK as a package: its public names, its typing marker, and its independence from the
server (it must import with httpx alone)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import calltrail_sdk

SDK_DIR = Path(calltrail_sdk.__file__).parent


def test_all_public_names_are_exported() -> None:
    # The order is ruff's (RUF022); what matters is that __all__ is exactly the public surface.
    public = {name for name in vars(calltrail_sdk) if not name.startswith("_") or name == "__version__"}
    assert len(calltrail_sdk.__all__) == len(set(calltrail_sdk.__all__))
    assert set(calltrail_sdk.__all__) == public


def test_modules_are_private() -> None:
    modules = sorted(path.stem for path in SDK_DIR.glob("*.py"))
    assert all(name == "__init__" or name.startswith("_") for name in modules)


def test_ships_the_typing_marker() -> None:
    assert (SDK_DIR / "py.typed").is_file()


def test_imports_without_the_server() -> None:
    """In a fresh interpreter, with the server's packages made unimportable, the SDK imports
    and works, and nothing but httpx (and its own deps) was loaded."""
    script = """
import importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("calltrail", "starlette", "orjson", "psycopg", "uvicorn", "click", "anyio_sdk"):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Block())
import calltrail_sdk
from calltrail_sdk import CallAppSettings, CallLogRequestBuilder
request = CallLogRequestBuilder(CallAppSettings(host="http://x.test")).set_auth_token("t").build()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert "calltrail_sdk" in loaded and "httpx" in loaded
    assert not loaded & {"calltrail", "starlette", "orjson", "psycopg", "uvicorn", "click"}


def test_source_never_mentions_the_server_package() -> None:
    for path in SDK_DIR.glob("*.py"):
        text = path.read_text()
        assert "import calltrail\n" not in text and "from calltrail." not in text and "from calltrail " not in text
