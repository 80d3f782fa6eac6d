"""superhero-dataflow: a superhero game's Kafka log stream, loaded into Parquet by Dagster."""

from superhero_assets.core.store import cloud_env as _cloud_env

_cloud_env.apply()  # before any cloud library is imported: no metadata-address probes

__version__ = "0.1.0"
