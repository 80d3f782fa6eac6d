# The tables' container on Azure Blob Storage, and a least-privilege service principal for
# the loader.
#   terraform -chdir=cloud/azure init && terraform -chdir=cloud/azure apply
# then: terraform -chdir=cloud/azure output -raw loader_env > secrets/azure.env  (git-ignored)

terraform {
  required_version = ">= 1.0"
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 3.100"
    }
    azuread = {
      source  = "hashicorp/azuread"
      version = "~> 2.47"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.11"
    }
  }
}

provider "azurerm" {
  features {}
  subscription_id = var.subscription_id
  client_id       = var.client_id
  client_secret   = var.client_secret
  tenant_id       = var.tenant_id
  # The account disables shared keys, so the provider's data-plane calls (the container, the
  # account's blob and queue properties) must use Azure AD tokens: otherwise azurerm 3.x asks
  # for the account key and gets 403 KeyBasedAuthenticationNotPermitted.
  storage_use_azuread = true
}

provider "azuread" {
  client_id     = var.client_id
  client_secret = var.client_secret
  tenant_id     = var.tenant_id
}

# The principal running `apply`: it creates the container through the data plane below.
data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "tables" {
  name     = var.resource_group_name
  location = var.location
}

resource "azurerm_storage_account" "tables" {
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys with infrastructure encryption; add a customer-managed key via Key Vault where policy demands it.
  #checkov:skip=CKV2_AZURE_33:A private endpoint needs a VNet the loader runs in; network_rules restrict access to applier_ip_ranges and allowed_ip_ranges instead.
  #checkov:skip=CKV_AZURE_33:Queue logging does not apply: the account serves blobs only.
  #checkov:skip=CKV_AZURE_59:The applier and the loader reach the account over the internet from applier_ip_ranges and allowed_ip_ranges only (network_rules deny everything else).
  name                              = var.storage_account_name
  resource_group_name               = azurerm_resource_group.tables.name
  location                          = azurerm_resource_group.tables.location
  account_tier                      = "Standard"
  account_replication_type          = "GRS"
  account_kind                      = "StorageV2"
  min_tls_version                   = "TLS1_2"
  enable_https_traffic_only         = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false
  default_to_oauth_authentication   = true

  # Terraform itself talks to the account's data plane (container, blob and queue properties)
  # on every plan and apply, so the applier's address is allowed next to the loader's.
  network_rules {
    default_action = "Deny"
    ip_rules       = distinct(concat(var.applier_ip_ranges, var.allowed_ip_ranges))
    bypass         = ["AzureServices"]
  }

  # Versioning keeps the file a replay supersedes, so a bad replay can be undone.
  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = var.retention_days
    }
    container_delete_retention_policy {
      days = var.retention_days
    }
  }

  sas_policy {
    expiration_period = "01.00:00:00"
  }
}

# Owner or Contributor on the subscription does not reach blob data: with Azure AD auth,
# creating and reading the container needs a data role, granted here to whoever applies.
resource "azurerm_role_assignment" "applier_blob" {
  scope                = azurerm_storage_account.tables.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = data.azurerm_client_config.current.object_id
}

# A new role assignment takes a minute or more to reach the storage service; creating the
# container at once would fail with 403 AuthorizationPermissionMismatch on a first apply.
resource "time_sleep" "applier_blob_propagation" {
  create_duration = "90s"
  depends_on      = [azurerm_role_assignment.applier_blob]
}

resource "azurerm_storage_container" "tables" {
  #checkov:skip=CKV2_AZURE_21:Blob read logging needs a Log Analytics workspace; add a diagnostic setting where required.
  name                  = var.container_name
  storage_account_name  = azurerm_storage_account.tables.name
  container_access_type = "private"
  depends_on            = [time_sleep.applier_blob_propagation]
}

# The loader: a service principal with "Storage Blob Data Contributor" on this container only.
resource "azuread_application" "loader" {
  display_name = "superhero-dataflow-loader"
}

resource "azuread_service_principal" "loader" {
  client_id = azuread_application.loader.client_id
}

resource "azuread_service_principal_password" "loader" {
  service_principal_id = azuread_service_principal.loader.object_id
  end_date_relative    = "4320h"
}

resource "azurerm_role_assignment" "loader" {
  scope                = azurerm_storage_container.tables.resource_manager_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azuread_service_principal.loader.object_id
}
