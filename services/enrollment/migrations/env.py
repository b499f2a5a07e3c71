from enrollment.adapters.tables import metadata
from mc_events.migrations import run_env

run_env(metadata)
