"""Every dependency is pinned to one exact version, so a clean clone installs what was tested:
pyproject.toml (runtime, test extra and build requirements) with `==`, client_web/package.json
with exact versions, its lockfile holding exactly those with integrity hashes, and the
virtual environment holding what pyproject.toml names (and the pip and setuptools that the
Makefile puts in it first)."""

import json
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9_,.-]+\])?==(?P<version>[0-9][A-Za-z0-9.+!-]*)$")
EXACT_NPM = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")


def python_requirements() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    groups = {"build-system.requires": project["build-system"]["requires"],
              "project.dependencies": project["project"]["dependencies"]}
    for extra, requirements in project["project"].get("optional-dependencies", {}).items():
        groups[f"project.optional-dependencies.{extra}"] = requirements
    return groups


def venv_tools() -> list[str]:
    line = re.search(r"^VENV_TOOLS\s*:=\s*(.+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
    assert line, "the Makefile's VENV_TOOLS (the venv's pinned pip and setuptools) is missing"
    return line.group(1).split()


def test_pyproject_pins_every_requirement_exactly():
    groups = {**python_requirements(), "Makefile VENV_TOOLS": venv_tools()}
    loose = [f"{group}: {req!r}" for group, reqs in groups.items() for req in reqs
             if not PIN.fullmatch(req.replace(" ", ""))]
    assert not loose, "not pinned with == to one version:\n" + "\n".join(loose)


def test_environment_holds_the_pinned_versions():
    wrong = []
    for group, requirements in {**python_requirements(), "Makefile VENV_TOOLS": venv_tools()}.items():
        if group == "build-system.requires":
            continue  # installed only in pip's isolated build environment
        for requirement in requirements:
            match = PIN.fullmatch(requirement.replace(" ", ""))
            try:
                installed = version(match["name"])
            except PackageNotFoundError:
                installed = "not installed"
            if installed != match["version"]:
                wrong.append(f"{match['name']}: pinned {match['version']}, installed {installed}")
    assert not wrong, "the virtual environment differs from pyproject.toml (re-run make install):\n" + "\n".join(wrong)


def test_web_client_pins_exact_versions_and_locks_them():
    package = json.loads((ROOT / "client_web" / "package.json").read_text(encoding="utf-8"))
    declared = {}
    for section in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies", "overrides"):
        for name, spec in package.get(section, {}).items():
            assert isinstance(spec, str) and EXACT_NPM.fullmatch(spec), f"{section}.{name} is {spec!r}, not one exact version"
            if section != "overrides":
                declared[name] = spec
    assert declared, "package.json names no dependency"

    lock = json.loads((ROOT / "client_web" / "package-lock.json").read_text(encoding="utf-8"))
    assert lock.get("lockfileVersion", 0) >= 2
    root = lock["packages"][""]
    assert {**root.get("dependencies", {}), **root.get("devDependencies", {})} == declared, "lockfile and package.json differ"
    for path, entry in lock["packages"].items():
        if not path:
            continue
        name = path.rsplit("node_modules/", 1)[-1]
        assert entry.get("integrity", "").startswith("sha512-"), f"{path} has no sha512 integrity hash"
        if name in declared:
            assert entry.get("version") == declared[name], f"{path} is locked at {entry.get('version')}, declared {declared[name]}"
        if name in package.get("overrides", {}):
            assert entry.get("version") == package["overrides"][name], f"{path} escapes its override"
