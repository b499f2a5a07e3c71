"""The development stack: embedded infrastructure for `make run` and the tests, the pipeline
driver, demo, chaos, benchmarks and lints. Never installed in production images."""
