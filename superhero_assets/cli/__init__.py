"""The product's own commands: `superhero load`, `freshness`, `lag` and `output`.

Each module's `register` adds its commands to the `superhero` parser; `options.py` spells
the options they share, and `errors.py` the one line a user sees when a run fails.
"""
