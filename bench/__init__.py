"""The dwh benchmark: `python -m bench` (or `make bench`). See bench/README.md."""
