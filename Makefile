# The whole test suite, as CI runs it (.ci/run calls `make test`); `make check` is the fast
# loop: lint, types, layers and the tests that start no cluster (about a minute).
.PHONY: test check lint protos bench

test: lint
	python -m pytest --durations=30

check: lint
	python -m pytest -m "not cluster and not slow and not faults"

lint:
	python -m pip install -q -e '.[dev]'
	ruff check .
	mypy
	lint-imports

protos:
	bash scripts/gen_protos.sh

bench:
	python benchmarks/throughput.py
