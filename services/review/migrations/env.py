from mc_platform.migrations import run_env
from review.adapters.tables import metadata

run_env(metadata)
