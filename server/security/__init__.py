"""Response headers, desk authentication and request limits."""
