"""What the consumer dead-letters: an event the service can never apply as it is (the HTTP API's
refusals are :mod:`mc_platform.refusals`, raised where the rules are)."""


class Undeliverable(Exception):
    """The event cannot be applied now, and retrying will not help (the roster does not know
    the educator yet; a reissue would make a credential its own predecessor): the consumer
    dead-letters it, to be replayed once what it needs has arrived."""
