variable "bucket_name" {
  description = "Globally unique name of the S3 bucket that holds the tables."
  type        = string
}

variable "aws_profile" {
  description = "Named profile in ~/.aws/config for the apply (SSO or assumed role; run `aws sso login --profile NAME` first). null: AWS_PROFILE or the rest of the default credential chain."
  type        = string
  default     = null
}

variable "aws_access_key_id" {
  description = "Optional access key of whoever applies this configuration (not the loader's). null: the default credential chain (aws_profile, AWS_PROFILE, environment, ~/.aws, instance role)."
  type        = string
  sensitive   = true
  default     = null
}

variable "aws_secret_access_key" {
  description = "Secret key that goes with aws_access_key_id; null when that is null."
  type        = string
  sensitive   = true
  default     = null
}

variable "aws_session_token" {
  description = "Session token that goes with temporary (ASIA...) keys in aws_access_key_id; null otherwise."
  type        = string
  sensitive   = true
  default     = null
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
