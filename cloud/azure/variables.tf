variable "subscription_id" {
  description = "Azure subscription that holds the storage account."
  type        = string
}

variable "client_id" {
  description = "Client id of the administrator's service principal that applies this configuration."
  type        = string
}

variable "client_secret" {
  description = "Client secret of that service principal."
  type        = string
  sensitive   = true
}

variable "tenant_id" {
  description = "Azure AD tenant of the subscription."
  type        = string
}

variable "storage_account_name" {
  description = "Globally unique storage account name (3-24 lowercase letters and digits)."
  type        = string
}

variable "container_name" {
  description = "Container that holds the tables."
  type        = string
  default     = "superhero"
}

variable "resource_group_name" {
  description = "Resource group created for the storage account."
  type        = string
  default     = "superhero-dataflow"
}

variable "location" {
  description = "Azure region."
  type        = string
  default     = "eastus"
}

variable "prefix" {
  description = "Folder inside the container under which every table lives (OUTPUT_FS's path)."
  type        = string
  default     = "tables"
}

variable "allowed_ip_ranges" {
  description = "Public IPs or CIDR ranges (no private ranges) from which the loader may reach the account."
  type        = list(string)
  default     = []
}

variable "retention_days" {
  description = "Days deleted blobs, versions and containers can be restored."
  type        = number
  default     = 30
}
