# The tables' bucket on Google Cloud Storage, and a least-privilege service account for the
# loader.
#   terraform -chdir=cloud/gcp init && terraform -chdir=cloud/gcp apply
# then (git-ignored): terraform -chdir=cloud/gcp output -raw loader_key_json > secrets/gcp-loader.json
#                and terraform -chdir=cloud/gcp output -raw loader_env > secrets/gcp.env

terraform {
  required_version = ">= 1.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 5.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

resource "google_storage_bucket" "tables" {
  #checkov:skip=CKV_GCP_62:Access logging needs a second bucket; enable it with your project's log bucket.
  name                        = var.bucket_name
  location                    = var.location
  storage_class               = var.storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Versioning keeps the file a replay supersedes, so a bad replay can be undone.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # Data is encrypted at rest by Google; set kms_key_name for a customer-managed key.
  dynamic "encryption" {
    for_each = var.kms_key_name == "" ? [] : [var.kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }
}

resource "google_service_account" "loader" {
  account_id   = var.loader_account_id
  display_name = "superhero-dataflow loader"
}

# Object read/write/delete on this bucket only: no bucket admin, no other bucket.
resource "google_storage_bucket_iam_member" "loader" {
  bucket = google_storage_bucket.tables.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.loader.email}"
}

resource "google_service_account_key" "loader" {
  service_account_id = google_service_account.loader.name
}
