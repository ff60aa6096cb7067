"""client_web/js/ under Node (libsodium-wrappers' WebAssembly build) passes every shared
vector: a fast check that needs no browser. The browser run is test_vectors_browser.py."""

import json
import shutil
import subprocess

from .conftest import CLIENT, VECTORS

FILES = ("encoding", "casekey", "kdf", "padding", "signing", "manifest", "envelope", "attachment", "reply",
         "report", "upload", "pow")


def test_vectors_in_node():
    node = shutil.which("node")
    assert node, "node is required (it also vendors libsodium.js for the browser)"
    assert (CLIENT / "node_modules" / "libsodium-wrappers").is_dir(), "run npm ci in client_web/"
    result = subprocess.run([node, str(VECTORS / "run_node.mjs")], capture_output=True, text=True, timeout=300)
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    expected = {
        f"{f}/{k}": len(v)
        for f in FILES
        for k, v in json.loads((VECTORS / f"{f}.json").read_text(encoding="utf-8")).items()
        if isinstance(v, list)
    }
    assert report["counts"] == expected
    assert report["failures"] == []
    assert result.returncode == 0, result.stderr
