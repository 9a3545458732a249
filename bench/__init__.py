"""`make bench`: the performance harness of docs/performance.md (bench/run.py is the entry
point)."""
