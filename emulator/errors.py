"""The exception tree of the core.

    ServiceError                 an AWS-shaped error: `code` is the model's error shape name
      ├── ClientError            the caller's fault (HTTP 400 unless the model says otherwise)
      └── NotImplementedOperation  an operation of the model that ccemu does not implement yet

    ClientStreamError            a git door's request stream that cannot be read as sent

Services raise these; each door renders them once, at its edge.
"""

from __future__ import annotations


class ServiceError(Exception):
    code: str = "InternalFailure"
    status: int = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ClientError(ServiceError):
    status = 400


class NotImplementedOperation(ServiceError):
    code = "NotImplementedException"
    status = 501


# What a git client is told of a fault of the server's own: no more (an exception's text may
# name the data dir's paths); the log has the traceback.
INTERNAL_ERROR = "internal error (logged by the server)"


class ClientStreamError(Exception):
    """The bytes a client sends over a git door cannot be read as it declared them: a body
    over its limit, a broken encoding. A door's read callable raises it; the git services
    report it to the client as the client's fault, like a malformed pack."""


def client_error(code: str, message: str, status: int = 400) -> ClientError:
    """Build an error named after an AWS error shape, e.g. `RepositoryDoesNotExistException`."""
    return ClientError(message, code=code, status=status)
