"""The errors a user sees: one sentence that says what to do, never a traceback.

SpecwiseError  the user's input is wrong (a file, a field, a flag)      → exit status 2
ServerFault    a server or endpoint misbehaved (every request failed,    → exit status 1
               counts that cannot be, a torn file it wrote)
"""


class SpecwiseError(Exception):
    """A user-facing error: the CLI prints its message and exits with status 2."""

    exit_code = 2


class ServerFault(SpecwiseError):
    """A server or endpoint fault, not the user's input: the CLI exits with status 1."""

    exit_code = 1
