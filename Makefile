# The whole test suite, as CI runs it (.ci/run calls `make test`).
.PHONY: test protos bench

test:
	python -m pip install -q -e '.[dev]'
	ruff check .
	mypy
	python -m pytest

protos:
	bash scripts/gen_protos.sh

bench:
	python benchmarks/throughput.py
