"""From numbers to decisions: cost anomalies, month-end forecast and budgets (issue 16)."""
