"""What a user is meant to read: one error type and one notice type."""


class InputError(ValueError):
    """A bad input from the user (a file, a path, an option). Its message is one line."""


class Notice(UserWarning):
    """Something the user should know that does not stop the run (e.g. an alpha channel dropped)."""
