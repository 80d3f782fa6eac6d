variable "bucket_name" {
  description = "Globally unique name of the S3 bucket that holds the tables."
  type        = string
}

variable "aws_access_key_id" {
  description = "Access key of the administrator that applies this configuration (not the loader's)."
  type        = string
  sensitive   = true
}

variable "aws_secret_access_key" {
  description = "Secret key of the administrator that applies this configuration."
  type        = string
  sensitive   = true
}

variable "region" {
  description = "AWS region of the bucket."
  type        = string
  default     = "us-east-1"
}

variable "prefix" {
  description = "Folder inside the bucket under which every table lives (OUTPUT_FS's path)."
  type        = string
  default     = "tables"
}

variable "noncurrent_days" {
  description = "Days a file superseded by a replay is kept before it is deleted."
  type        = number
  default     = 30
}
