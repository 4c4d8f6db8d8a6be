"""photos package."""
