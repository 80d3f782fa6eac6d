"""superhero-dataflow: a superhero game's Kafka log stream, loaded into Parquet by Dagster."""

__version__ = "0.1.0"
