"""The one exception a user's mistake raises, so the CLI can report it without a traceback."""


class InputError(Exception):
    """A problem with a file the user gave: says which file, where in it, and what was expected.

    The command line prints ``str(error)`` on one line and exits with code 2.
    """

    def __init__(self, source: str, where: str | None, problem: str) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        location = f"{source}, {where}" if where else source
        super().__init__(f"{location}: {problem}")

    def __reduce__(self) -> tuple:
        """Pickle by the constructor's arguments, so the error crosses process boundaries
        (a worker's InputError reaches the command line as itself)."""
        return (type(self), (self.source, self.where, self.problem))
