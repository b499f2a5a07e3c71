"""Why a command was refused; the API maps each to its HTTP status."""


class CommandRefused(Exception):
    """Base of the refusals below (nothing was changed)."""


class NotFound(CommandRefused):
    pass


class Forbidden(CommandRefused):
    """The caller may not act on this object (another district's rule or budget)."""


class Conflict(CommandRefused):
    pass
