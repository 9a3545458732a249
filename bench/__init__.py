"""`make bench`: the performance harness of SPEC §9 (bench/run.py is the entry point)."""
