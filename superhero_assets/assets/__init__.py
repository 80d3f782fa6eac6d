"""Software-defined assets: the raw landing, the five tables, quarantine and their checks."""
