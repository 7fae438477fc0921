"""What the SES and SNS providers share: their base class, one boto3 client per process and setting,
and the error translation."""

from __future__ import annotations

import os
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import create_credential_resolver
from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from messaging.providers.base import Credential, Provider, ProviderError
from messaging.providers.pools import PerCredential, http_pool_size, one_per_process


def aws_is_configured() -> bool:
    """boto3 finds credentials (environment, profile, role) and a region.

    Asked before every call, so the answer follows what boto3 reads: it is kept while the region
    setting, the AWS_* environment and the shared files' modification times stay the same (a few
    µs to check), and resolved afresh when any of them changes (about 1 ms, on one botocore session
    per process; a new boto3 Session costs about 13 ms). A role's credentials (container, instance)
    are not looked up again while nothing else changes: a role taken away shows as failed calls.
    """
    inputs = _configuration_inputs()
    known = _configured_answer.get(inputs)
    if known is None:
        known = _configured_answer[inputs] = _resolve_configured()
        if len(_configured_answer) > 64:  # a changing environment must not grow it without end
            _configured_answer.clear()
    return known


_configured_answer: dict[tuple[object, ...], bool] = {}


def _configuration_inputs() -> tuple[object, ...]:
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    files: list[int | None] = []
    for variable, default in (
        ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        ("AWS_CONFIG_FILE", "~/.aws/config"),
    ):
        try:
            files.append(os.stat(os.path.expanduser(os.environ.get(variable, default))).st_mtime_ns)
        except OSError:
            files.append(None)
    return (settings.AWS_REGION, environment, *files)


def _resolve_configured() -> bool:
    session = _botocore_session()
    region = settings.AWS_REGION or session.get_config_variable("region")
    return bool(region) and create_credential_resolver(session).load_credentials() is not None


@one_per_process
def _botocore_session() -> botocore.session.Session:
    session = botocore.session.Session()
    create_credential_resolver(session)  # reads the config files now, under the build lock
    return session


@sensitive_variables("values")
def aws_client(service: str, credential: Credential | None = None) -> Any:
    """The service's client for the current settings (built once per process per setting), or for a
    tenant's own keys and region (once per process per credential)."""
    endpoint = settings.AWS_ENDPOINT_URL or None
    shape = (float(settings.PROVIDER_CONNECT_TIMEOUT), float(settings.PROVIDER_READ_TIMEOUT), http_pool_size())
    if credential is None:
        return _client(service, settings.AWS_REGION or None, endpoint, *shape)
    values = credential.values
    region = values.get("AWS_REGION") or settings.AWS_REGION or None

    def build() -> Any:
        session = boto3.session.Session(
            aws_access_key_id=values.get("AWS_ACCESS_KEY_ID"), aws_secret_access_key=values.get("AWS_SECRET_ACCESS_KEY")
        )
        return _build(session, service, region, endpoint, *shape)

    return _tenant_clients.get(credential, (service, region, endpoint, *shape), build)


class AwsProvider(Provider):
    """SES and SNS: configured when boto3 finds credentials and a region, or by a tenant's keys."""

    @classmethod
    def is_configured(cls) -> bool:
        return aws_is_configured()

    def credential_complete(self) -> bool:
        if self.credential is None:
            return False
        values = self.credential.values
        has_region = values.get("AWS_REGION") or settings.AWS_REGION
        return bool(values.get("AWS_ACCESS_KEY_ID") and values.get("AWS_SECRET_ACCESS_KEY") and has_region)


_tenant_clients: PerCredential[Any] = PerCredential()


@one_per_process
def _client(service: str, region: str | None, endpoint: str | None, connect: float, read: float, pool: int) -> Any:
    """Built under a lock (creating boto3 clients from threads at once is not safe; using one is)."""
    return _build(boto3.session.Session(), service, region, endpoint, connect, read, pool)


def _build(session: Any, service: str, region: str | None, endpoint: str | None, *shape: float) -> Any:
    connect, read, pool = shape
    # Retries belong to the failover loop and Celery, so the SDK makes exactly one attempt. The
    # pool keeps one connection alive per call the worker can have in flight.
    config = Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=int(pool),
        tcp_keepalive=True,
    )
    return session.client(service, region_name=region, endpoint_url=endpoint, config=config)


def aws_error(err: Exception, *, recipient_faults: dict[str, tuple[str, ...]]) -> ProviderError:
    """Translate a botocore exception into a ProviderError.

    recipient_faults maps an AWS error code to words one of which its message must hold for the
    recipient to be at fault (e.g. InvalidParameter about a "phone number"); everything else is a
    provider fault.
    """
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        text = str(error.get("Message", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        recipient_fault = any(word in text.lower() for word in recipient_faults.get(code, ()))
        return ProviderError(
            f"{code}: {text}",
            recipient_fault=recipient_fault,
            code=code,
            status_code=status,
            body=str(err.response.get("Error", "")),
        )
    if isinstance(err, ConnectTimeoutError | ReadTimeoutError):
        return ProviderError(f"timed out: {err}", code="Timeout")
    assert isinstance(err, BotoCoreError)
    return ProviderError(f"{type(err).__name__}: {err}", code=type(err).__name__)
