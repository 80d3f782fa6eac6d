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

variable "applier_ip_ranges" {
  description = "Public IPv4 addresses or CIDR ranges of whoever runs plan/apply (curl -4 -s https://ifconfig.me prints yours). The account's firewall denies every other address, and Terraform reads the account's data plane on every plan."
  type        = list(string)
  # Azure's IP rules take public IPv4 only, and a range only as a network address with a
  # prefix of /30 or shorter (a /31 or /32 is written as single addresses).
  validation {
    condition = alltrue([
      for r in var.applier_ip_ranges : can(regex("^\\d{1,3}(\\.\\d{1,3}){3}(/([0-9]|[12][0-9]|30))?$", r))
      && try(cidrhost(length(split("/", r)) > 1 ? r : "${r}/32", 0) == split("/", r)[0], false)
      && !can(regex("^(0\\.|10\\.|127\\.|169\\.254\\.|192\\.168\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.)", r))
    ])
    error_message = "Each entry must be a public IPv4 address (203.0.113.10) or a range given by its network address with a prefix of /30 or shorter (203.0.113.0/24); private, /31, /32 and IPv6 entries are rejected by Azure."
  }
}

variable "allowed_ip_ranges" {
  description = "Public IPv4 addresses or CIDR ranges from which the loader may reach the account."
  type        = list(string)
  default     = []
  # Azure's IP rules take public IPv4 only, and a range only as a network address with a
  # prefix of /30 or shorter (a /31 or /32 is written as single addresses).
  validation {
    condition = alltrue([
      for r in var.allowed_ip_ranges : can(regex("^\\d{1,3}(\\.\\d{1,3}){3}(/([0-9]|[12][0-9]|30))?$", r))
      && try(cidrhost(length(split("/", r)) > 1 ? r : "${r}/32", 0) == split("/", r)[0], false)
      && !can(regex("^(0\\.|10\\.|127\\.|169\\.254\\.|192\\.168\\.|172\\.(1[6-9]|2[0-9]|3[01])\\.)", r))
    ])
    error_message = "Each entry must be a public IPv4 address (203.0.113.10) or a range given by its network address with a prefix of /30 or shorter (203.0.113.0/24); private, /31, /32 and IPv6 entries are rejected by Azure."
  }
}

variable "retention_days" {
  description = "Days deleted blobs, versions and containers can be restored."
  type        = number
  default     = 30
}
