"""The HTML cost report (`mlcost report`, the cost_report asset)."""
