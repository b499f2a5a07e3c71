"""One transaction per command; repositories hang off it as the service grows."""

from mc_events.unit_of_work import UnitOfWork as _BaseUnitOfWork


class UnitOfWork(_BaseUnitOfWork):
    """The review unit of work."""
