"""The Terraform in cloud/ checked offline: fmt (Terraform 1.0.3 from PyPI), an HCL parse of
the variables and outputs, checkov (in its own virtualenv), and git-ignored secrets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
import yaml

ROOT = Path(__file__).parents[2]
CLOUD = ROOT / "cloud"
OFFLINE = {**os.environ, "CHECKPOINT_DISABLE": "1"}  # no Terraform version check call-home

VARIABLES = {
    "gcp": {"bucket_name", "storage_class", "project_id"},
    "aws": {"bucket_name", "aws_profile", "aws_access_key_id", "aws_secret_access_key"},
    "azure": {"subscription_id", "client_id", "client_secret", "tenant_id", "applier_ip_ranges"},
}
SCHEMES = {"gcp": "gs://", "aws": "s3://", "azure": "az://"}
SECRETS = {
    "aws": {"aws_access_key_id", "aws_secret_access_key", "aws_session_token"},
    "azure": {"client_secret"},
}
# The one git-ignored folder for the loader's credentials (README, Cloud output).
SECRETS_DIR = ROOT / "secrets"


def _load(provider: str) -> dict:
    merged: dict = {}
    for tf in sorted((CLOUD / provider).glob("*.tf")):
        with tf.open() as fh:
            for key, value in hcl2.load(fh).items():
                merged.setdefault(key, []).extend(value)
    return merged


def _unquote(value):
    """python-hcl2 8 keeps the quotes of labels and strings; compare without them."""
    if isinstance(value, str):
        return value.strip('"')
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return value


def _blocks(parsed: dict, kind: str) -> dict:
    return _unquote({name: body for block in parsed.get(kind, []) for name, body in block.items()})


def test_terraform_fmt_check_passes_with_terraform_1_0_3():
    terraform = Path(sys.executable).parent / "terraform"
    version = subprocess.run(
        [terraform, "version"], capture_output=True, text=True, env=OFFLINE, timeout=120
    )
    assert "Terraform v1.0.3" in version.stdout
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(CLOUD)],
        capture_output=True,
        text=True,
        env=OFFLINE,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("provider", sorted(VARIABLES))
def test_variables_outputs_and_tfvars_example(provider):
    parsed = _load(provider)
    variables = _blocks(parsed, "variable")
    assert VARIABLES[provider] <= set(variables)
    for name in SECRETS.get(provider, ()):
        assert variables[name].get("sensitive") is True, name
    outputs = _blocks(parsed, "output")
    assert {"output_fs", "loader_env"} <= set(outputs)
    assert str(outputs["output_fs"]["value"]).startswith(SCHEMES[provider])
    assert "OUTPUT_FS=" + SCHEMES[provider] in str(outputs["loader_env"]["value"])
    # Exactly one bucket or container for the tables.
    resources = [_unquote(r) for block in parsed["resource"] for r in block]
    buckets = [
        r
        for r in resources
        if r in ("aws_s3_bucket", "google_storage_bucket", "azurerm_storage_container")
    ]
    assert len(buckets) == 1
    # The example sets every variable that has no default.
    example = _unquote(hcl2.loads((CLOUD / provider / "terraform.tfvars.example").read_text()))
    required = {n for n, body in variables.items() if "default" not in body}
    assert required <= set(example), required - set(example)


def test_tfvars_state_and_credential_files_are_git_ignored():
    paths = [
        "cloud/aws/terraform.tfvars",
        "cloud/gcp/terraform.tfvars",
        "cloud/azure/terraform.tfvars",
        "cloud/aws/terraform.tfstate",
        "cloud/gcp/gcp-loader.json",
        "cloud/azure/azure.env",
        "cloud/aws/.terraform/providers",
    ]
    result = subprocess.run(
        ["git", "check-ignore", *paths], cwd=ROOT, capture_output=True, text=True
    )
    assert set(result.stdout.split()) == set(paths)
    kept = subprocess.run(["git", "check-ignore", "cloud/aws/terraform.tfvars.example"], cwd=ROOT)
    assert kept.returncode == 1  # the example is not ignored


def _checkov() -> str | None:
    cache = Path(os.environ.get("SUPERHERO_CACHE_DIR") or Path.home() / ".cache" / "superhero")
    for candidate in (os.environ.get("CHECKOV"), cache / "checkov-venv" / "bin" / "checkov"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return shutil.which("checkov")


def test_checkov_passes_and_every_skip_has_a_reason():
    checkov = _checkov()
    if checkov is None:
        if os.environ.get("CI"):
            pytest.fail("checkov is not installed; `make checkov` installs it in its own venv")
        pytest.skip("checkov not installed (make checkov)")
    result = subprocess.run(
        [
            checkov,
            "-d",
            str(CLOUD),
            "--framework",
            "terraform",
            "--compact",
            "--quiet",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**OFFLINE, "BC_SKIP_MAPPING": "TRUE"},
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    import json

    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    for rep in reports:
        assert rep["summary"]["failed"] == 0
        for skipped in rep["results"].get("skipped_checks", []):
            assert len(skipped.get("suppress_comment", "")) > 20, skipped["check_id"]


# --- credentials and network access of whoever runs `apply` ---------------------------------


def _resource(parsed: dict, kind: str, name: str) -> dict:
    """One resource's body (each resource is its own {kind: {name: body}} block)."""
    for block in _unquote(parsed["resource"]):
        if name in block.get(kind, {}):
            return block[kind][name]
    raise KeyError(f"{kind}.{name}")


def test_aws_applies_with_the_default_credential_chain():
    """Profiles, SSO and environment credentials work: every key variable is optional."""
    parsed = _load("aws")
    variables = _blocks(parsed, "variable")
    provider = _blocks(parsed, "provider")["aws"]
    arguments = {
        "profile": "aws_profile",
        "access_key": "aws_access_key_id",
        "secret_key": "aws_secret_access_key",
        "token": "aws_session_token",
    }
    for argument, variable in arguments.items():
        assert provider[argument] == f"${{var.{variable}}}", argument
        # null leaves the argument unset, so the provider falls back to its default chain.
        assert "default" in variables[variable] and variables[variable]["default"] is None
    # The example signs in through the chain (a profile), with no keys in terraform.tfvars.
    example_text = (CLOUD / "aws" / "terraform.tfvars.example").read_text()
    example = _unquote(hcl2.loads(example_text))
    assert not {"aws_access_key_id", "aws_secret_access_key"} & set(example)
    assert "aws_profile" in example_text and "aws sso login" in example_text


def test_azure_data_plane_uses_azure_ad_and_admits_the_applier():
    parsed = _load("azure")
    provider = _blocks(parsed, "provider")["azurerm"]
    account = _resource(parsed, "azurerm_storage_account", "tables")
    # Shared keys are off, so without Azure AD tokens azurerm 3.x gets 403 on the data plane.
    assert account["shared_access_key_enabled"] is False
    assert provider["storage_use_azuread"] is True
    # The firewall lets in the applier (a required variable) as well as the loader.
    rules = account["network_rules"][0]
    assert rules["default_action"] == "Deny"
    assert "var.applier_ip_ranges" in rules["ip_rules"]
    assert "var.allowed_ip_ranges" in rules["ip_rules"]
    variables = _blocks(parsed, "variable")
    applier = variables["applier_ip_ranges"]
    assert "default" not in applier and applier.get("validation")
    assert "curl" in applier["description"]  # how to find your address
    example = _unquote(hcl2.loads((CLOUD / "azure" / "terraform.tfvars.example").read_text()))
    assert example["applier_ip_ranges"]


def test_azure_applier_gets_the_blob_data_role_before_the_container_is_created():
    """The container is created through the data plane, which Owner/Contributor do not reach."""
    parsed = _load("azure")
    assert "current" in _blocks(parsed, "data")["azurerm_client_config"]
    assignment = _resource(parsed, "azurerm_role_assignment", "applier_blob")
    assert assignment["principal_id"] == "${data.azurerm_client_config.current.object_id}"
    assert assignment["role_definition_name"] in (
        "Storage Blob Data Contributor",
        "Storage Blob Data Owner",
    )
    assert assignment["scope"] == "${azurerm_storage_account.tables.id}"
    # The container waits for the assignment to propagate (a fresh one answers 403 for a while).
    sleep = _resource(parsed, "time_sleep", "applier_blob_propagation")
    assert "azurerm_role_assignment.applier_blob" in str(sleep["depends_on"])
    container = _resource(parsed, "azurerm_storage_container", "tables")
    assert "time_sleep.applier_blob_propagation" in str(container["depends_on"])


@pytest.fixture(scope="module")
def azure_variables_only(tmp_path_factory) -> Path:
    """cloud/azure/variables.tf alone: a plan with no provider runs offline and checks the
    variables' validation with Terraform itself."""
    folder = tmp_path_factory.mktemp("azure-variables")
    shutil.copy(CLOUD / "azure" / "variables.tf", folder)
    terraform = Path(sys.executable).parent / "terraform"
    init = subprocess.run(
        [terraform, f"-chdir={folder}", "init", "-input=false", "-no-color"],
        capture_output=True,
        text=True,
        env=OFFLINE,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    return folder


def _plan_azure_variables(folder: Path, applier: list[str]) -> subprocess.CompletedProcess:
    import json

    values = {
        "subscription_id": "s",
        "client_id": "c",
        "client_secret": "x",
        "tenant_id": "t",
        "storage_account_name": "n",
    }
    return subprocess.run(
        [
            Path(sys.executable).parent / "terraform",
            f"-chdir={folder}",
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            *(f"-var={k}={v}" for k, v in values.items()),
            f"-var=applier_ip_ranges={json.dumps(applier)}",
        ],
        capture_output=True,
        text=True,
        env=OFFLINE,
        timeout=120,
    )


@pytest.mark.parametrize(
    "applier",
    [["203.0.113.10"], ["203.0.113.0/24"], ["198.51.100.7", "203.0.113.0/30"], []],
)
def test_applier_ip_ranges_accepts_what_azure_ip_rules_accept(azure_variables_only, applier):
    result = _plan_azure_variables(azure_variables_only, applier)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "applier",
    [
        ["10.1.2.3"],  # private
        ["192.168.0.0/16"],
        ["172.20.0.1"],
        ["203.0.113.10/32"],  # Azure wants a single address, not a /31 or /32
        ["203.0.113.5/24"],  # not the network address
        ["2001:db8::1"],  # IP rules are IPv4 only
        ["300.1.1.1"],
        ["my-laptop"],
    ],
)
def test_applier_ip_ranges_rejects_what_azure_would_refuse(azure_variables_only, applier):
    result = _plan_azure_variables(azure_variables_only, applier)
    assert result.returncode != 0
    assert "public IPv4 address" in result.stderr, result.stderr


# --- the one git-ignored folder for secrets --------------------------------------------------

# A credential file's name, with any folder before it: aws.env, secrets/gcp-loader.json, ...
_SECRET_FILE = re.compile(r"(?<![\w.-])(/?(?:[\w.-]+/)*[\w-]+(?:\.env|-loader\.json))(?![\w.-])")


def _secret_paths_in(text: str) -> set[str]:
    return set(_SECRET_FILE.findall(text))


def _inside_secrets_dir(path: str, base: Path) -> bool:
    return (base / path).resolve().is_relative_to(SECRETS_DIR.resolve())


def test_every_secret_path_is_in_the_one_git_ignored_folder():
    """README, compose overlays and Terraform name the same files, all under secrets/."""
    named: dict[str, set[str]] = {}  # path relative to the repo root -> where it is named
    overlays = {c: ROOT / "compose" / f"docker-compose.{c}.yml" for c in ("aws", "azure", "gcp")}
    texts = {path: path.read_text() for path in [ROOT / "README.md", *CLOUD.glob("*/*.tf")]}
    for overlay in overlays.values():  # an overlay's commands are in its comments
        lines = overlay.read_text().splitlines()
        texts[overlay] = "\n".join(line for line in lines if line.lstrip().startswith("#"))
    # The README's commands, and those in comments and outputs, run from the repo root.
    for source, text in texts.items():
        for path in _secret_paths_in(text):
            assert not path.startswith("/"), f"{source.name} names {path}"
            assert _inside_secrets_dir(path, ROOT), f"{source.name} names {path}"
            named.setdefault(os.path.relpath(ROOT / path, ROOT), set()).add(source.name)
    # Compose resolves a secret's file against compose/, the project directory.
    for overlay in overlays.values():
        spec = yaml.safe_load(overlay.read_text())
        for secret in (spec.get("secrets") or {}).values():
            assert _inside_secrets_dir(secret["file"], overlay.parent), secret["file"]
            named.setdefault(os.path.relpath(overlay.parent / secret["file"], ROOT), set()).add(
                overlay.name
            )
    expected = {
        "secrets/aws.env",
        "secrets/azure.env",
        "secrets/gcp.env",
        "secrets/gcp-loader.json",
    }
    assert set(named) == expected
    for path in expected:
        assert "README.md" in named[path], path
        cloud = path.split("/")[1].split(".")[0].removesuffix("-loader")
        assert overlays[cloud].name in named[path], path
    result = subprocess.run(
        ["git", "check-ignore", *sorted(named), "secrets/anything"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert set(result.stdout.split()) == {*named, "secrets/anything"}, result.stderr
