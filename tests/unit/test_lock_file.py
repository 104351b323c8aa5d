"""The lock file is what installs run from: it must pin every dependency pyproject.toml names,
within the range pyproject.toml allows, with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PINNED = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", re.MULTILINE)


def _locked() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    return {canonicalize_name(name): version for name, version in PINNED.findall(text)}


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = [*project["project"]["dependencies"],
             *project["project"]["optional-dependencies"]["dev"],
             *project["build-system"]["requires"]]
    return [Requirement(name) for name in names]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    locked = _locked()
    for requirement in _declared():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement.name} is not in requirements.lock (run make lock)"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{requirement.name}=={locked[name]} is outside {requirement.specifier}")


def test_every_pin_carries_a_hash() -> None:
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text)
    pins = [entry for entry in entries if PINNED.match(entry)]
    assert len(pins) == len(_locked())
    for entry in pins:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]
