"""The fence-agent runtime: options declared once, input parsing, metadata, driver."""
