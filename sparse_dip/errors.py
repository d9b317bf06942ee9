"""The one error type a user is meant to read."""


class InputError(ValueError):
    """A bad input from the user (a file, a path, an option). Its message is one line."""
