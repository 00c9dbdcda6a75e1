"""The bottom layer: errors and plain helpers every other package may import; no side effects on import."""
