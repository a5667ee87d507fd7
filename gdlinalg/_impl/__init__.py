"""Private implementation of :mod:`gdlinalg`. Nothing here is public API."""
