"""The one error type a user can cause; its message is one sentence that says what to do."""


class SpecwiseError(Exception):
    """A user-facing error: the CLI prints its message and exits with status 2."""
