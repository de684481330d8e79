"""duration - "10s", "18m", "1h30m", "500ms" into seconds (None if bad)."""

import re

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def seconds(text):
    """seconds - a Go-style duration (the refreshInterval syntax) in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text or "")
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return sum(float(a) * UNITS[b] for a, b in parts)
