"""Generated bad inputs for the reliability tests (tests/test_bad_inputs.py); no committed data."""
