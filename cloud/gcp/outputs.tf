output "output_fs" {
  description = "The exact OUTPUT_FS value for the loader."
  value       = "gs://${google_storage_bucket.tables.name}/${var.prefix}"
}

output "loader_service_account" {
  description = "E-mail of the loader's service account."
  value       = google_service_account.loader.email
}

output "loader_key_json" {
  description = "The loader's key: terraform -chdir=cloud/gcp output -raw loader_key_json > secrets/gcp-loader.json (git-ignored)."
  sensitive   = true
  value       = base64decode(google_service_account_key.loader.private_key)
}

output "loader_env" {
  description = "The loader's environment: terraform -chdir=cloud/gcp output -raw loader_env > secrets/gcp.env (git-ignored)."
  # The key's path is relative to the repo root, where the README's commands run; compose
  # mounts the same file and points the containers at it.
  value = <<-EOT
    OUTPUT_FS=gs://${google_storage_bucket.tables.name}/${var.prefix}
    GCP_PROJECT_ID=${var.project_id}
    GOOGLE_APPLICATION_CREDENTIALS=secrets/gcp-loader.json
  EOT
}
