"""The base every cross-service event contract derives from.

A contract is a frozen Pydantic model whose class variables say what it is on the wire:

- ``event_type``: ``<service>.<thing_happened>`` in the past tense
  (``registry.credential_awarded``);
- ``version``: bumped only for a breaking change; a change within a version only adds optional
  fields (checked against the schemas in ``libs/events/schemas``);
- ``topic``: the topic it is published on (see :mod:`mc_events.topics`);
- ``key_field``: the payload field whose value is the record key, so every event of one aggregate
  lands on one partition and stays in order;
- ``subject_field``: the payload field used as CloudEvents ``subject`` (defaults to the key).

The CloudEvents ``type`` is ``<event_type>.v<version>``. Consumers ignore fields they do not know
(``extra="ignore"``) so producers may add optional fields without breaking anyone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

_REGISTRY: dict[str, type[Event]] = {}


class Event(BaseModel):
    """Base class of every published event payload (the CloudEvents ``data``)."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_enum_values=False)

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    topic: ClassVar[str]
    key_field: ClassVar[str]
    subject_field: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Abstract intermediates (no event_type of their own) are not registered.
        if "event_type" not in cls.__dict__:
            return
        for attr in ("topic", "key_field"):
            if not hasattr(cls, attr):
                raise TypeError(f"{cls.__name__} must define {attr}")
        ce_type = cls.ce_type()
        existing = _REGISTRY.get(ce_type)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise TypeError(f"{ce_type} is already defined by {existing.__qualname__}")
        _REGISTRY[ce_type] = cls

    @classmethod
    def ce_type(cls) -> str:
        """The CloudEvents ``type`` attribute: ``<event_type>.v<version>``."""
        return f"{cls.event_type}.v{cls.version}"

    @classmethod
    def schema_name(cls) -> str:
        """File stem of the checked-in JSON Schema (``registry.credential_awarded.v1``)."""
        return cls.ce_type()

    def partition_key(self) -> str:
        """Record key: the value of ``key_field``."""
        return str(getattr(self, self.key_field))

    def subject(self) -> str:
        """CloudEvents ``subject``: the value of ``subject_field``, else the key."""
        field = self.subject_field or self.key_field
        return str(getattr(self, field))


def contract_for(ce_type: str) -> type[Event] | None:
    """The contract class registered for a CloudEvents ``type``, or None if unknown."""
    return _REGISTRY.get(ce_type)


def all_contracts() -> dict[str, type[Event]]:
    """Every registered contract by CloudEvents ``type``.

    Import :mod:`mc_events.contracts` first so that every module has registered its classes.
    """
    return dict(sorted(_REGISTRY.items()))
