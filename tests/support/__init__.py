"""Shared test helpers: servers, fault injection, a throwaway PostgreSQL, golden files (bench/ may use them too)."""
