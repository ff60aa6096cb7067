"""One error type for every protocol failure, with a stable machine-readable code."""


class ProtocolError(ValueError):
    """Raised when bytes do not follow docs/PROTOCOL.md or fail authentication.

    `code` is stable and safe to show or return over the API; `message` is for people.
    """

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
