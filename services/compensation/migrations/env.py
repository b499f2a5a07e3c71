from compensation.adapters.tables import metadata
from mc_platform.migrations import run_env

run_env(metadata)
