variable "project_id" {
  description = "GCP project that holds the bucket (GCP_PROJECT_ID)."
  type        = string
}

variable "bucket_name" {
  description = "Globally unique name of the GCS bucket that holds the tables."
  type        = string
}

variable "storage_class" {
  description = "STANDARD, NEARLINE, COLDLINE or ARCHIVE."
  type        = string
  default     = "STANDARD"
}

variable "location" {
  description = "Bucket location (region or multi-region)."
  type        = string
  default     = "US"
}

variable "region" {
  description = "Default region of the provider."
  type        = string
  default     = "us-central1"
}

variable "prefix" {
  description = "Folder inside the bucket under which every table lives (OUTPUT_FS's path)."
  type        = string
  default     = "tables"
}

variable "loader_account_id" {
  description = "Account id of the loader's service account."
  type        = string
  default     = "superhero-loader"
}

variable "noncurrent_days" {
  description = "Days a file superseded by a replay is kept before it is deleted."
  type        = number
  default     = 30
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key for customer-managed encryption ('' = Google-managed)."
  type        = string
  default     = ""
}
