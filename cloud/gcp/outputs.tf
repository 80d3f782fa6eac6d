output "output_fs" {
  description = "The exact OUTPUT_FS value for the loader."
  value       = "gs://${google_storage_bucket.tables.name}/${var.prefix}"
}

output "loader_service_account" {
  description = "E-mail of the loader's service account."
  value       = google_service_account.loader.email
}

output "loader_key_json" {
  description = "The loader's key: terraform output -raw loader_key_json > gcp-loader.json (git-ignored), then GOOGLE_APPLICATION_CREDENTIALS=gcp-loader.json."
  sensitive   = true
  value       = base64decode(google_service_account_key.loader.private_key)
}

output "loader_env" {
  description = "The loader's environment, next to the key file."
  value       = <<-EOT
    OUTPUT_FS=gs://${google_storage_bucket.tables.name}/${var.prefix}
    GCP_PROJECT_ID=${var.project_id}
    GOOGLE_APPLICATION_CREDENTIALS=./gcp-loader.json
  EOT
}
