"""Known vulnerabilities in what Quietline runs: pip-audit over the project's virtual environment
(every installed distribution, pip and setuptools included) and npm audit over
client_web/package-lock.json (the browser libraries and the test-only axe-core).

Both ask only the package registries: pip-audit PyPI's JSON API (`--vulnerability-service
pypi`), npm audit the npm registry's advisory endpoint. A finding fails the test and names the
package, version, advisory and fixed versions. So does an audit that could not be done: a
registry that does not answer, or answers for only some packages, is a failure with the reason,
never a pass. Where the registries' vulnerability endpoints are known to be out of reach,
QUIETLINE_AUDIT_UNREACHABLE=skip turns only that case into a skip that names the reason
(pytest -ra lists it); a finding still fails.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIP_AUDIT = Path(sys.executable).with_name("pip-audit")
PIP_AUDIT_SERVICE = os.environ.get("QUIETLINE_PIP_AUDIT_SERVICE", "pypi")


def unreachable(what: str, detail: str) -> None:
    message = f"{what} could not be done, so nothing is known about its vulnerabilities: {detail}"
    if os.environ.get("QUIETLINE_AUDIT_UNREACHABLE") == "skip":
        pytest.skip(message)
    pytest.fail(message + " (QUIETLINE_AUDIT_UNREACHABLE=skip makes this a listed skip where that is expected)")


def test_python_environment_has_no_known_vulnerability(tmp_path):
    assert PIP_AUDIT.exists(), f"{PIP_AUDIT} is missing: pip-audit is pinned in pyproject.toml's test extra"
    run = subprocess.run(
        [str(PIP_AUDIT), "--vulnerability-service", PIP_AUDIT_SERVICE, "--skip-editable", "--format", "json",
         "--progress-spinner", "off", "--desc", "off", "--timeout", "20", "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    try:
        report = json.loads(run.stdout)
    except ValueError:
        unreachable(f"pip-audit ({PIP_AUDIT_SERVICE})", f"exit {run.returncode}: {run.stderr.strip()[-1500:]}")
    dependencies = report.get("dependencies", [])
    found = [d for d in dependencies if d.get("vulns")]
    if found:
        lines = [
            f"{d['name']} {d['version']}: {v['id']} (aliases {', '.join(v.get('aliases', [])) or 'none'}; "
            f"fixed in {', '.join(v.get('fix_versions', [])) or 'no release yet'})"
            for d in found for v in d["vulns"]
        ]
        pytest.fail("known vulnerabilities in the Python environment:\n" + "\n".join(lines))
    # An installed distribution that was not audited (other than the project itself, which is
    # editable and not on PyPI) means the answer is unknown, not "no vulnerabilities".
    skipped = [d for d in dependencies if "skip_reason" in d and d["skip_reason"] != "distribution marked as editable"]
    if skipped or not dependencies:
        first = "; ".join(f"{d['name']}: {d['skip_reason']}" for d in skipped[:3])
        unreachable(
            f"pip-audit ({PIP_AUDIT_SERVICE})",
            f"{len(skipped)} of {len(dependencies)} distributions were not audited ({first}). With the PyPI service "
            "that means PyPI's per-release JSON (/pypi/NAME/VERSION/json) did not answer",
        )
    assert run.returncode == 0, run.stderr


def test_web_client_lockfile_has_no_known_vulnerability():
    npm = shutil.which("npm")
    assert npm, "npm is missing: it installs client_web's pinned libraries (make web-deps)"
    run = subprocess.run(
        [npm, "audit", "--json", "--package-lock-only", "--include=dev", "--no-fund"],
        capture_output=True, text=True, timeout=300, cwd=ROOT / "client_web",
    )
    try:
        report = json.loads(run.stdout)
    except ValueError:
        unreachable("npm audit", f"exit {run.returncode}: {run.stderr.strip()[-1500:]}")
    if "error" in report or "metadata" not in report:
        said = {k: report[k] for k in ("message", "statusCode", "uri") if k in report} or report.get("error") or report
        unreachable("npm audit", f"the registry's advisory endpoint refused it (exit {run.returncode}): {json.dumps(said)[:1500]}")
    vulnerabilities = report.get("vulnerabilities", {})
    if vulnerabilities:
        lines = []
        for name, entry in sorted(vulnerabilities.items()):
            titles = [v.get("title", v.get("url", "")) if isinstance(v, dict) else f"via {v}" for v in entry.get("via", [])]
            lines.append(f"{name} ({entry.get('severity')}, {entry.get('range')}): {'; '.join(titles)}; "
                         f"fix: {entry.get('fixAvailable')}")
        pytest.fail("known vulnerabilities in client_web/package-lock.json:\n" + "\n".join(lines))
    counted = report["metadata"].get("dependencies", {})
    assert counted.get("total", 0) >= 3, f"npm audit looked at too few packages: {report['metadata']}"
    assert run.returncode == 0, run.stderr
