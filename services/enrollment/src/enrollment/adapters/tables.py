"""The enrollment database's own tables (the backbone's outbox and inbox come from mc_events)."""

from sqlalchemy import MetaData

metadata = MetaData()
