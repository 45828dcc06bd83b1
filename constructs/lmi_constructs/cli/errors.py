"""The errors `lmi` reports to its user: str() says what went wrong and what to do."""

from __future__ import annotations


class TargetError(Exception):
    """The target cannot be reached or resolved, or refused the request."""


class StreamError(Exception):
    """The response stream broke or reported an error."""


class BenchError(Exception):
    """The benchmark cannot run as asked (bad arguments, nothing answered)."""
