"""The one exception type that the CLI turns into a one-line error message."""


class MedicError(Exception):
    """A user-facing error: the message names the bad value and what would be valid."""
