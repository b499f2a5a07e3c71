from mc_events.migrations import run_env
from registry.adapters.tables import metadata

run_env(metadata)
