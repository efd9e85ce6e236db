"""Domain errors every service raises; one interceptor turns them into gRPC status codes."""

from __future__ import annotations


class SparrowError(Exception):
    """Base of the errors a caller is meant to read. The message is shown to users."""

    code_name = "INTERNAL"
    # Set where the status code alone can't say which fault it is (sent as the
    # call's "reason" trailer): the gateway answers it with a status of its own.
    reason: str | None = None


class NotFound(SparrowError):
    """The chain, node or stem does not exist (or belongs to someone else)."""

    code_name = "NOT_FOUND"


class Conflict(SparrowError):
    """The request is valid but the thing is in the wrong state for it."""

    code_name = "FAILED_PRECONDITION"


class InvalidArgument(SparrowError):
    """The request itself is wrong: a bad id, an absurd number, undecodable audio."""

    code_name = "INVALID_ARGUMENT"


class TooLarge(SparrowError):
    """An upload past the configured limit."""

    code_name = "OUT_OF_RANGE"


class Busy(SparrowError):
    """A worker's slots and queue are full; try again later."""

    code_name = "RESOURCE_EXHAUSTED"


class StorageFull(SparrowError):
    """The disk (or quota) that holds the audio has no room left: nothing new
    can be stored until someone frees space."""

    code_name = "RESOURCE_EXHAUSTED"
    reason = "storage-full"
    retry_after_s = 60


class StorageUnavailable(SparrowError):
    """The audio's storage can't be written to or read (read-only, unmounted,
    its folders gone) while the service itself is up."""

    code_name = "UNAVAILABLE"
    reason = "storage-unavailable"
    retry_after_s = 30


class OverLimit(SparrowError):
    """The caller has used up a limit of their tier; `retry_after_s` says when
    asking again can succeed (sent as the call's "retry-after" trailer)."""

    code_name = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(SparrowError):
    """A model or a downstream service can't serve right now; the message says why.
    With `retry_after_s` (sent as the "retry-after" trailer) the message is meant
    for users and says when asking again should succeed."""

    code_name = "UNAVAILABLE"
    retry_after_s: int | None = None

    def __init__(self, message: str, retry_after_s: int | None = None):
        super().__init__(message)
        if retry_after_s is not None:
            self.retry_after_s = retry_after_s


def from_downstream(code_name: str, details: str, service: str) -> SparrowError:
    """A SparrowError for what a downstream service answered, keeping its words
    when they were meant for users."""
    for kind in (NotFound, Conflict, InvalidArgument, TooLarge, Busy):
        if kind.code_name == code_name:
            return kind(details)
    return Unavailable(f"the {service} service is not answering right now ({code_name.lower()}); try again shortly")


# What a generation or stems worker answers (UNAVAILABLE) while its model loads;
# callers wait for it rather than count it as a failed attempt.
MODEL_LOADING = "the model is loading"
