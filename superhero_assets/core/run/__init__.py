"""The run: its plan, the Redis offset state, the manifest, and the exactly-once pipeline."""
