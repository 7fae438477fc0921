"""ARCHITECTURE.md names only modules that exist, its layers are pyproject's contract, README links it."""

from __future__ import annotations

import re
import tomllib

from tests.processes import ROOT

TEXT = (ROOT / "ARCHITECTURE.md").read_text()
PACKAGES = "otpsite|messaging|otp|accounts|notifications|observability|web|workers"
# A path in backquotes under one of the packages: `otp/models.py`, `otpsite/idempotency/`.
PATH = re.compile(rf"`((?:{PACKAGES})/[\w/<>.-]*)`")
# A dotted name in backquotes: `otp.tasks.deliver_otp`, `messaging.providers.smsbird.sender.SmsBirdProvider`.
DOTTED = re.compile(rf"`((?:{PACKAGES})(?:\.\w+)+)`")
# The worked example's provider is written by the reader (tests/messaging/smsbird/ holds its copy).
EXAMPLE = "messaging/providers/smsbird/"


def named_paths() -> set[str]:
    return {path for path in PATH.findall(TEXT) if "<name>" not in path and not path.startswith(EXAMPLE)}


def test_every_module_path_it_names_exists():
    paths = named_paths()
    assert len(paths) > 40, sorted(paths)  # the tables were read
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert missing == []


def test_every_dotted_module_it_names_exists():
    names = {name for name in DOTTED.findall(TEXT) if not name.startswith("messaging.providers.smsbird")}
    assert "otp.tasks.deliver_otp" in names
    missing = []
    for name in sorted(names):
        parts = name.split(".")
        # The longest prefix that is a module or package; what follows must be defined in it.
        for cut in range(len(parts), 0, -1):
            base = ROOT.joinpath(*parts[:cut])
            module = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
            if module.exists():
                rest = parts[cut:]
                if rest and not re.search(rf"^(?:def|class|async def)? ?{rest[0]}\b", module.read_text(), re.M):
                    missing.append(name)
                break
        else:
            missing.append(name)
    assert missing == []


def test_its_layers_are_the_import_contract():
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    rows = re.findall(r"^\| \d \| (.+?) \| ", TEXT, re.M)
    layers = [" | ".join(re.findall(r"`(\w+)`", row)) for row in rows]
    assert layers == contract["layers"]


def test_the_readme_links_it():
    assert "(ARCHITECTURE.md)" in (ROOT / "README.md").read_text()
