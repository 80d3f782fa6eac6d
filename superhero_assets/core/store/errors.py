"""What a store's failure means for its configuration, with every secret scrubbed out."""

from __future__ import annotations

import errno
import re


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return re.sub(r"(AccountKey|SharedAccessSignature|sig)=[^;&\s]+", r"\1=***", text)


def explain(exc: BaseException, cloud: str | None, root: str, secrets: list[str]) -> str | None:
    """A message naming the variable to fix, for the errors a wrong configuration causes."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 6:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if cloud is None:
        return _explain_local(chain, root)
    names = {type(e).__name__ for e in chain}
    codes: set[str] = set()
    status: set[int] = set()
    for e in chain:
        response = getattr(e, "response", None)
        if isinstance(response, dict):
            codes.add(str(response.get("Error", {}).get("Code", "")))
        code = getattr(e, "error_code", None) or getattr(e, "code", None)
        if isinstance(code, str):
            codes.add(code)
        elif isinstance(code, int):
            status.add(code)
        sc = getattr(e, "status_code", None)
        if isinstance(sc, int):
            status.add(sc)
    text = " ".join(str(e) for e in chain)
    bucket = root.split("://", 1)[-1].split("/", 1)[0]
    missing_bucket = (
        f"OUTPUT_FS {root}: the bucket or container {bucket!r} does not exist (or is not "
        "visible to these credentials). Create it (see cloud/ for Terraform) or fix OUTPUT_FS."
    )
    if cloud == "s3":
        if codes & {"InvalidAccessKeyId", "InvalidClientTokenId"}:
            return "AWS_ACCESS_KEY_ID is not a key the S3 endpoint knows; fix AWS_ACCESS_KEY_ID."
        if codes & {"SignatureDoesNotMatch"}:
            return (
                "AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID (the request "
                "signature was refused); fix AWS_SECRET_ACCESS_KEY."
            )
        if "NoSuchBucket" in codes or "NoSuchBucket" in names:
            return missing_bucket
        if codes & {"AccessDenied", "AllAccessDisabled", "403"}:
            return (
                f"access to {root} was denied: the identity in AWS_ACCESS_KEY_ID needs "
                "s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on it."
            )
        if "NoCredentialsError" in names:
            return "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        if "EndpointConnectionError" in names:
            return "the S3 endpoint does not answer; check AWS_ENDPOINT_URL (and AWS_REGION)."
    if cloud == "gcs":
        if names & {"DefaultCredentialsError", "RefreshError", "TransportError"}:
            return (
                "no usable Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a "
                "service-account key file (and GCP_PROJECT_ID), or run `gcloud auth "
                "application-default login`."
            )
        if status & {401} or "401" in text:
            return "GOOGLE_APPLICATION_CREDENTIALS was refused (401); fix the key file."
        if status & {403}:
            return (
                f"access to {root} was denied: the service account in "
                "GOOGLE_APPLICATION_CREDENTIALS needs roles/storage.objectAdmin on the bucket."
            )
        if isinstance(exc, FileNotFoundError) and f"/b/{bucket}/" in text + "/":
            return missing_bucket
    if cloud == "azure":
        if "ContainerNotFound" in codes or "ContainerNotFound" in text:
            return missing_bucket
        if (
            "ClientAuthenticationError" in names
            or "AuthenticationFailed" in codes
            or "failed to authenticate" in text
        ):
            return (
                "the Azure storage account refused the credentials; fix AZURE_ACCOUNT_KEY "
                "(or AZURE_CLIENT_SECRET for a service principal) for AZURE_ACCOUNT_NAME."
            )
        if "AuthorizationPermissionMismatch" in codes or status & {403}:
            return (
                f"access to {root} was denied: the identity needs the 'Storage Blob Data "
                "Contributor' role on the container."
            )
        if isinstance(exc, FileNotFoundError) and bucket in text:
            return missing_bucket
        if "ServiceRequestError" in names:
            return "the Azure endpoint does not answer; check AZURE_STORAGE_ENDPOINT."
    return None


def _explain_local(chain: list[BaseException], root: str) -> str | None:
    """A local folder that cannot take the files: full, read-only, forbidden or impossible."""
    codes = {e.errno for e in chain if isinstance(e, OSError)}
    if codes & {errno.ENOSPC, errno.EDQUOT}:
        return (
            f"OUTPUT_FS {root}: the disk is full (or over quota). Free some space there, or "
            "set OUTPUT_FS to a folder on a disk with room, then run the load again (offsets "
            "are committed only after every file is written)."
        )
    if errno.EROFS in codes:
        return (
            f"OUTPUT_FS {root} is on a read-only file system. Remount it read-write, or set "
            "OUTPUT_FS to a writable folder."
        )
    if codes & {errno.EACCES, errno.EPERM}:
        return (
            f"OUTPUT_FS {root}: permission denied. Give this user write access to the folder, "
            "or set OUTPUT_FS to one it can write."
        )
    if codes & {errno.ENOENT, errno.ENOTDIR, errno.EEXIST}:
        return (
            f"OUTPUT_FS {root}: no folder can be created there (a parent is missing, a file, "
            "or a special file system such as /proc). Set OUTPUT_FS to a writable folder; it "
            "is created if it is missing."
        )
    return None
