"""The OCF runtime: declarations, environment parsing, meta-data and dispatch."""
