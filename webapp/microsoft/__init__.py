"""microsoft package."""
