"""The README's shell examples, run as a newcomer would: ``calltrail serve --demo`` on a fresh
SQLite file, then every ``curl`` line of README.md's ```sh blocks (and the ``calltrail`` lines
that set up what they need), with ``$BASE``/``$KEY``/``$TOKEN`` and the placeholders filled in
from the demo's output and earlier answers. Each must answer 2xx (or the status its comment
announces) with a non-empty, meaningful body."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import Server

#: CALLTRAIL_README checks a proposed edit of the README before it replaces the real one.
README = Path(os.environ.get("CALLTRAIL_README") or Path(__file__).resolve().parents[2] / "README.md")
STATUS_MARK = "\n__status__"
#: Setup commands run as written (with placeholders filled); every other non-curl line is prose.
SETUP = ("calltrail channels create --app demo ", "calltrail demo --app demo --channel")


def commands(markdown: str) -> list[tuple[str, str]]:
    """``(comment above, command)`` for each shell command of the ```sh blocks, continuation
    lines and multi-line quoted strings joined."""
    found: list[tuple[str, str]] = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.S | re.M):
        comment, pending = "", ""
        for line in block.splitlines():
            if not pending and line.lstrip().startswith("#"):
                comment = line
                continue
            pending = f"{pending}\n{line}" if pending else line
            if pending.endswith("\\") or pending.count("'") % 2:
                continue
            if pending.strip():
                found.append((comment, pending.strip()))
            pending = ""
    return found


@dataclass
class Session:
    """What the examples run with, and what earlier answers taught."""

    env: dict[str, str]
    cwd: Path
    answers: list[Any] = field(default_factory=list)
    fills: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def fill(self, command: str) -> str | None:
        """The command with its placeholders filled, or None when one cannot be."""
        for placeholder in re.findall(r"<[^<>\n]+>", command):
            value = self.fills.get(placeholder) or self._from_last(placeholder)
            if value is None:
                return None
            command = command.replace(placeholder, value)
        return command

    def _from_last(self, placeholder: str) -> str | None:
        """From the latest answer that has it: a page token, a session id, a token id."""
        wanted = {"<nextPageToken>": "nextPageToken", "<sessionId>": "sessionId", "<authToken or tokenId>": "tokenId"}
        name = wanted.get(placeholder)
        for answer in reversed(self.answers):
            if not isinstance(answer, dict):
                continue
            if name == "nextPageToken":
                return answer.get(name)  # only the answer just before: the next page of that list
            items = answer.get("data")
            if name and isinstance(items, list) and items and isinstance(items[0], dict) and name in items[0]:
                return str(items[0][name])
        return None

    def bash(self, script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", script], env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=300
        )


def _meaningful(body: Any) -> bool:
    """Not empty: lists of calls, results or rows have items; objects have fields."""
    if isinstance(body, dict):
        for key in ("data", "results"):
            if key in body:
                return bool(body[key])
        return bool(body)
    return bool(body)


def _expected_status(comment: str, command: str) -> int | None:
    """A status announced by the comment above (or on) the line, e.g. ``is 403``."""
    announced = re.search(r"\b(4\d\d)\b", comment + command.split(" # ")[-1] if " # " in command else comment)
    return int(announced.group(1)) if announced else None


def run_curl(session: Session, comment: str, command: str) -> None:
    assignment = re.match(r"^(\w+)=\$\((.*)\)$", command, flags=re.S)
    if assignment:
        result = session.bash(command + f'\nprintf %s "${assignment.group(1)}"')
        value = result.stdout.strip()
        if not value:
            session.problems.append(f"{command!r}: empty value ({result.stderr.strip()[:200]})")
        session.env[assignment.group(1)] = value
        return
    expected = _expected_status(comment, command)
    before = set(os.listdir(session.cwd))
    traced = command.replace("curl ", f"curl -w '{STATUS_MARK}%{{http_code}}' ", 1)
    result = session.bash(traced)
    text, _, status_text = result.stdout.rpartition(STATUS_MARK)
    status = int(status_text.strip() or 0)
    ok = status == expected if expected else 200 <= status < 300
    if not ok:
        session.problems.append(f"{command!r}: status {status} ({text[:200]!r})")
        return
    written = [session.cwd / name for name in set(os.listdir(session.cwd)) - before]
    if written:  # curl -OJ: the body is a file
        if not all(path.stat().st_size > 0 for path in written) or len(written[0].read_text().splitlines()) < 2:
            session.problems.append(f"{command!r}: wrote an empty file")
        return
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    if not _meaningful(body) and expected is None:
        session.problems.append(f"{command!r}: empty answer {text[:200]!r}")
    session.answers.append(body)


def run_setup(session: Session, command: str) -> None:
    result = session.bash(command)
    if result.returncode != 0:
        session.problems.append(f"{command!r}: exit {result.returncode}: {result.stderr[-300:]}")
        return
    channel = re.search(r'"channelId":\s*"([0-9a-f-]{36})"', result.stdout)
    if channel:
        session.fills["<channelId>"] = channel.group(1)


def test_every_readme_example_answers_on_demo_data(server_factory: Callable[..., Server], tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'calltrail.db'}"
    server = server_factory(db_url, "--demo")
    output = server.output()
    key = re.search(r"API key\s*:\s*([0-9a-f]{40})", output)
    token = re.search(r"authToken\s*:\s*(\S+)", output)
    assert key and token, output
    work = tmp_path / "work"
    work.mkdir()
    env = {
        **os.environ,
        "BASE": server.base_url,
        "KEY": key.group(1),
        "TOKEN": token.group(1),
        "CALLTRAIL_DB": db_url,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    session = Session(env, work, fills={"<the API key printed by ./scripts/demo>": key.group(1)})
    ran = 0
    for comment, raw in commands(README.read_text()):
        if raw.startswith("export ") or re.match(r"^[A-Z]+=<", raw):
            # Variables: the demo's values (TOKEN: the demo user's token, printed by the demo).
            filled = session.fill(re.sub(r"TOKEN=<[^<>]*>", f"TOKEN={token.group(1)}", raw))
            if filled is not None:
                session.env.update(_assignments(session, filled))
            continue
        if raw.startswith(SETUP):
            filled = session.fill(raw)
            if filled is not None:
                run_setup(session, filled)
            continue
        if not raw.startswith("curl ") and not re.match(r"^\w+=\$\(curl ", raw):
            continue
        filled = session.fill(raw)
        if filled is None:
            session.problems.append(f"{raw!r}: skipped, a placeholder could not be filled")
            continue
        run_curl(session, comment, filled)
        ran += 1
    assert ran >= 30, ran
    assert not session.problems, "\n".join(session.problems)


def _assignments(session: Session, command: str) -> dict[str, str]:
    """Run ``export A=...`` / ``C=...; B=...`` lines and return the variables they set."""
    names = re.findall(r"(?:^|[;\s])(?:export\s+)?([A-Z]+)=", command)
    script = command + "\n" + "\n".join(f'printf "%s\\0" "${name}"' for name in names)
    values = session.bash(script).stdout.split("\0")
    return {name: value for name, value in zip(names, values, strict=False) if name not in ("BASE",)}
