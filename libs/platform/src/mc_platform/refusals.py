"""Refusals: how the service layer and the domain say no.

A command the rules refuse raises a :class:`Refusal`: one class per HTTP status it will have
(:class:`Conflict`, :class:`NotFound`, ...), a machine-readable ``reason`` (``snake_case``,
stable: clients switch on it), a ``detail`` for a human, and keyword extensions. Nothing here
knows HTTP: :mod:`mc_platform.problems` turns every refusal into an RFC 9457 problem, in one
handler, so routes never translate errors.

    class EnrollmentRefused(Conflict): ...
    raise EnrollmentRefused("already enrolled", reason="already_active")
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar


class Refusal(Exception):
    """A command the rules refuse. Subclasses fix the HTTP status; ``reason`` names the rule
    (``snake_case``, stable: clients switch on it), ``detail`` says why for a human, and
    keyword ``extensions`` become extra members of the problem (JSON-serialisable values)."""

    status: ClassVar[int] = HTTPStatus.CONFLICT

    def __init__(self, detail: str, *, reason: str | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason
        self.extensions = extensions


class Invalid(Refusal):
    """The request is well-formed but its content breaks a rule of its own (422)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class Forbidden(Refusal):
    """The caller may not do this to this object (403)."""

    status = HTTPStatus.FORBIDDEN


class NotFound(Refusal):
    """No such object, or not one the caller may see: the same answer for both (404)."""

    status = HTTPStatus.NOT_FOUND


class Conflict(Refusal):
    """The object's state refuses the command (409)."""

    status = HTTPStatus.CONFLICT


class Gone(Refusal):
    """The object existed and is no longer available (410)."""

    status = HTTPStatus.GONE


class Unavailable(Refusal):
    """Something the command needs is down; retrying later may work (503)."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


class ContentTooLarge(Refusal):
    """The request's content is larger than the limit; nothing of it was kept (413)."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedMediaType(Refusal):
    """The content's media type is not one this operation accepts (415)."""

    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
