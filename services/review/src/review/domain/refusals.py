"""How review says no: refusals (:mod:`mc_platform.refusals`), one class per kind of answer.

The problem-details handler turns them into HTTP answers; ``detail`` is the message the API has
always given. Review's refusals carry no ``reason`` (its API never sent one).
"""

from __future__ import annotations

from mc_platform.refusals import Conflict, Forbidden, NotFound


class NoSuch(NotFound):
    """No such review, assignment, case or assessor (or not one of the caller's): 404."""


class WrongState(Conflict):
    """The review, assignment or case is not in a state that allows the command: 409."""


class NotAllowed(Forbidden):
    """This assessor or approver may not do this to this submission: 403."""
