output "output_fs" {
  description = "The exact OUTPUT_FS value for the loader."
  value       = "az://${azurerm_storage_container.tables.name}/${var.prefix}"
}

output "loader_env" {
  description = "The loader's environment: terraform -chdir=cloud/azure output -raw loader_env > secrets/azure.env (git-ignored)."
  sensitive   = true
  value       = <<-EOT
    OUTPUT_FS=az://${azurerm_storage_container.tables.name}/${var.prefix}
    AZURE_ACCOUNT_NAME=${azurerm_storage_account.tables.name}
    AZURE_TENANT_ID=${var.tenant_id}
    AZURE_CLIENT_ID=${azuread_application.loader.client_id}
    AZURE_CLIENT_SECRET=${azuread_service_principal_password.loader.value}
  EOT
}
