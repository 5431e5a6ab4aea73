"""The exceptions that end a command with a one-line message instead of a traceback.

``BadInput`` means "the user gave us something wrong": the CLI prints its message as a single
line and exits with code 2. ``OutputError`` exits with 3, ``Locked`` with 75 and ``Interrupted``
with 128 + the signal number. Everything else is a bug and keeps its traceback.
"""


class BadInput(Exception):
    """Bad suite, flag, name or missing file. The message is the whole user-facing line."""


class OutputError(Exception):
    """The output dir or the tracking store cannot be used (read-only, full, corrupt). The message
    is the whole user-facing line, naming the path and how to recover; the CLI exits with 3."""


class Locked(Exception):
    """Another `ganbench run` holds the output dir; the message names it. The CLI exits with 75."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a suite. Runs in flight were stopped and marked KILLED; the
    counts say how many of the suite's runs are recorded as done and how many are left."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.finished: int | None = None
        self.pending: int | None = None

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, as shells report them
