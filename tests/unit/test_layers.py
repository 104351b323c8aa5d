"""The layer contract in pyproject.toml names every infrastructure module of src/ledger/ as
forbidden to the domain, so a module added later cannot slip under it unchecked."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEDGER = ROOT / "src" / "ledger"


def _contract(name_start: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["name"].startswith(name_start)]
    return dict(contract)


def test_the_domain_is_forbidden_every_other_module_of_the_ledger_package() -> None:
    infrastructure = {f"ledger.{path.stem}" for path in LEDGER.glob("*.py")
                      if path.stem != "__init__"}
    infrastructure |= {f"ledger.{path.name}" for path in LEDGER.iterdir()
                       if path.is_dir() and (path / "__init__.py").exists()
                       and path.name != "domain"}
    forbidden = set(_contract("The domain")["forbidden_modules"])  # type: ignore[arg-type]

    assert infrastructure <= forbidden, sorted(infrastructure - forbidden)

