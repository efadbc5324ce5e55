"""The performance benchmark (`make bench`): bench/run.py drives it, bench/stages.py runs one stage."""
