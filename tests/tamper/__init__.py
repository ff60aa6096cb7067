"""The tampering suite: one table of tampered artifacts (table.py), each refused with its
stable code by every layer that can see it: the server (test_server.py), the workstation
(test_workstation.py), the Python protocol in crypto/ (test_python.py) and the browser's
modules in real Chromium (test_browser.py)."""
