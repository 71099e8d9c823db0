"""OpenAstro benchmarks: each module `bench_*.py` has `main() -> dict`; `python -m benchmarks` runs them all."""
