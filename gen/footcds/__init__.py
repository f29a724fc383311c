"""Generated FootCDS protocol code."""
