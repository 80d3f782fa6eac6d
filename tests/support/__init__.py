"""Helpers the tests share: the test stack, wire-format builders, ELT environments, the browser."""
