"""Benchmarks: quality, speed and wire-copy detection; they print tables, tests never time things."""
