"""The `lmi` console script."""
