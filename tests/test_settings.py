"""Settings from the environment, and docs/configuration.md listing every one of them."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from calltrail.settings import Settings

DOC = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    for item in fields(Settings):
        assert f"`{item.metadata['env']}`" in text, item.metadata["env"]
    assert "`CALLTRAIL_FORWARDED_ALLOW_IPS`" in text  # a flag of serve, not a Settings field


def test_limits_are_read_as_numbers() -> None:
    settings = Settings.from_env(
        {"CALLTRAIL_RATE_LIMIT": "2.5", "CALLTRAIL_RATE_BURST": "7", "CALLTRAIL_MAX_IN_FLIGHT": "16"}
    )
    assert (settings.rate_limit, settings.rate_burst, settings.max_in_flight) == (2.5, 7, 16)
    assert Settings.from_env({}).rate_limit == 200.0


@pytest.mark.parametrize(("name", "value"), [("CALLTRAIL_RATE_LIMIT", "fast"), ("CALLTRAIL_RATE_BURST", "-1")])
def test_a_malformed_number_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
