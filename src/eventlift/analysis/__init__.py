"""Roll-ups of attributions into tables, the leakage probe and the baselines."""
