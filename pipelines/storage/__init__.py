"""Storage: the table registry, the Parquet lake, published generations and the analysts' warehouse."""
