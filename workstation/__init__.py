"""The focal point's offline workstation (vault, import, cases, replies, export) and the
small online `sync` side that only moves bundles."""
