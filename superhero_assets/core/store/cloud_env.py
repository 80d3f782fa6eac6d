"""Safe defaults for the cloud libraries, set before any of them is imported.

Nothing the project runs may reach a cloud metadata address by accident, and gcsfs must not
probe every bucket for hierarchical namespaces (it stalls 60 s per bucket on emulators). A
value the user sets explicitly always wins: on an EC2 instance with a role, for example, set
AWS_EC2_METADATA_DISABLED=false.
"""

from __future__ import annotations

import os

SAFE_DEFAULTS = {
    # botocore: never ask the EC2 instance metadata service (169.254.169.254) for credentials.
    "AWS_EC2_METADATA_DISABLED": "true",
    # google-auth: never ping the GCE metadata server while looking for default credentials.
    "NO_GCE_CHECK": "true",
    # gcsfs: no experimental zonal/HNS probing (read once, when gcsfs is imported).
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
}


def apply(env: dict[str, str] | os._Environ = os.environ) -> None:
    for name, value in SAFE_DEFAULTS.items():
        env.setdefault(name, value)
