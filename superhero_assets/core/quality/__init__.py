"""The answers behind the asset checks: row counts, contiguous offsets and freshness."""
