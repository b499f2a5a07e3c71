from mc_events.migrations import run_env
from review.adapters.tables import metadata

run_env(metadata)
