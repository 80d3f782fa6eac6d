"""The output store under OUTPUT_FS: durable Parquet files, local or on S3, GCS and Azure."""
