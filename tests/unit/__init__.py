"""Unit tests: pure logic on in-memory or on-disk inputs; no services."""
