"""`make bench`: FootCDS's figures beside the frameworks' own ceilings (docs/performance.md)."""
