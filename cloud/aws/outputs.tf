output "output_fs" {
  description = "The exact OUTPUT_FS value for the loader."
  value       = "s3://${aws_s3_bucket.tables.bucket}/${var.prefix}"
}

output "loader_access_key_id" {
  description = "AWS_ACCESS_KEY_ID of the loader's least-privilege user."
  value       = aws_iam_access_key.loader.id
}

output "loader_env" {
  description = "The loader's environment: terraform -chdir=cloud/aws output -raw loader_env > secrets/aws.env (git-ignored)."
  sensitive   = true
  value       = <<-EOT
    OUTPUT_FS=s3://${aws_s3_bucket.tables.bucket}/${var.prefix}
    AWS_ACCESS_KEY_ID=${aws_iam_access_key.loader.id}
    AWS_SECRET_ACCESS_KEY=${aws_iam_access_key.loader.secret}
    AWS_REGION=${var.region}
  EOT
}
