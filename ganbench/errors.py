"""The one exception type that means "the user gave us something wrong".

The CLI prints its message as a single line and exits with code 2; everything else is a bug
and keeps its traceback.
"""


class BadInput(Exception):
    """Bad suite, flag, name or missing file. The message is the whole user-facing line."""
