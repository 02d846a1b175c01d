"""likeness package."""
