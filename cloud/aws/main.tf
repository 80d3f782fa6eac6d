# The tables' bucket on AWS S3, and a least-privilege identity for the loader.
#   terraform -chdir=cloud/aws init && terraform -chdir=cloud/aws apply
# then: terraform -chdir=cloud/aws output -raw loader_env > secrets/aws.env  (git-ignored)
# The apply authenticates like the AWS CLI: AWS_PROFILE or aws_profile (SSO, assumed roles),
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, or an instance role.

terraform {
  required_version = ">= 1.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

# Every credential argument is null unless set, and a null argument leaves the provider's
# default credential chain in charge: no long-lived admin keys are needed in terraform.tfvars.
provider "aws" {
  region     = var.region
  profile    = var.aws_profile
  access_key = var.aws_access_key_id
  secret_key = var.aws_secret_access_key
  token      = var.aws_session_token
}

data "aws_caller_identity" "current" {}

resource "aws_kms_key" "tables" {
  description             = "Encrypts the superhero-dataflow tables in ${var.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_s3_bucket" "tables" {
  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket; enable it with your account's log bucket.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles cost; the tables can be reloaded from Kafka by the README's reset.
  #checkov:skip=CKV2_AWS_62:No consumer of object events exists; the manifest under _manifest/ records every run.
  bucket = var.bucket_name
}

resource "aws_s3_bucket_public_access_block" "tables" {
  bucket                  = aws_s3_bucket.tables.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "tables" {
  bucket = aws_s3_bucket.tables.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "tables" {
  bucket = aws_s3_bucket.tables.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.tables.arn
    }
    bucket_key_enabled = true
  }
}

# Versioning keeps the file a replay supersedes, so a bad replay can be undone.
resource "aws_s3_bucket_versioning" "tables" {
  bucket = aws_s3_bucket.tables.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "tables" {
  bucket     = aws_s3_bucket.tables.id
  depends_on = [aws_s3_bucket_versioning.tables]
  rule {
    id     = "replays-and-killed-uploads"
    status = "Enabled"
    filter {}
    # A run killed mid-upload leaves an invisible multipart upload: drop it after a day.
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_days
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  bucket = aws_s3_bucket.tables.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.tables.arn, "${aws_s3_bucket.tables.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })
  depends_on = [aws_s3_bucket_public_access_block.tables]
}

# The loader: list, read, write and delete under the prefix, and nothing else.
resource "aws_iam_group" "loader" {
  name = "${var.bucket_name}-loader"
}

resource "aws_iam_user" "loader" {
  #checkov:skip=CKV_AWS_273:The loader runs headless outside AWS and authenticates with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, as the original did; use an instance role instead where it runs on AWS.
  name = "${var.bucket_name}-loader"
}

resource "aws_iam_user_group_membership" "loader" {
  user   = aws_iam_user.loader.name
  groups = [aws_iam_group.loader.name]
}

resource "aws_iam_group_policy" "loader" {
  name  = "superhero-dataflow-tables"
  group = aws_iam_group.loader.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "ListThePrefix"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = aws_s3_bucket.tables.arn
        Condition = { StringLike = { "s3:prefix" = ["${var.prefix}", "${var.prefix}/*"] } }
      },
      {
        Sid      = "ReadWriteThePrefix"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        Resource = "${aws_s3_bucket.tables.arn}/${var.prefix}/*"
      },
      {
        Sid      = "UseTheTablesKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = aws_kms_key.tables.arn
      },
    ]
  })
}

resource "aws_iam_access_key" "loader" {
  user = aws_iam_user.loader.name
}
