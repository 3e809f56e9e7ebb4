"""AWS Signature V4 for providers whose spec says `auth: sigv4` (Bedrock without an API key).

Credentials come from botocore's usual chain (environment, shared config and credentials
files, SSO, instance roles), resolved once and refreshed by botocore when they expire. Each
attempt is signed just before it is sent, because a signature is only valid for minutes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from cloudburst._constants import DEFAULT_AWS_REGION
from cloudburst._errors import ConfigurationError


@functools.cache
def _credentials() -> Any:
    try:
        import botocore.session
    except ImportError:
        raise ConfigurationError(
            "signing AWS requests needs botocore: pip install 'cloudburst[bedrock]', "
            "or set AWS_BEARER_TOKEN_BEDROCK to use a Bedrock API key"
        ) from None
    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise ConfigurationError(
            "no AWS credentials found (environment, ~/.aws, SSO or instance role); "
            "or set AWS_BEARER_TOKEN_BEDROCK to use a Bedrock API key"
        )
    return credentials


def check_credentials() -> None:
    """Fail before anything is sent when there is nothing to sign with."""
    _credentials()


def sign(method: str, url: str, headers: Mapping[str, str], body: bytes, service: str, region: str) -> dict[str, str]:
    """`headers` plus the SigV4 `Authorization`, `X-Amz-Date` (and session token) for this request."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(_credentials().get_frozen_credentials(), service, region).add_auth(request)
    return dict(request.headers.items())


def aws_region(preferred: str | None = None) -> str:
    """`preferred` (a model's region), else `AWS_REGION` (every AWS SDK but botocore, and the AWS
    CLI, read it first), else `AWS_DEFAULT_REGION`, else the region of the profile in the shared
    config file (`AWS_PROFILE`, read by botocore where it is installed), else us-east-1."""
    region = preferred or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    try:
        import botocore.session
    except ImportError:
        return DEFAULT_AWS_REGION
    return str(botocore.session.get_session().get_config_variable("region") or DEFAULT_AWS_REGION)


def region_of(url: str, configured: str | None = None) -> str:
    """The region in a regional AWS endpoint (`bedrock-runtime.eu-west-1.amazonaws.com`), else
    the configured one (an endpoint of one's own, set by `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`)."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    return parts[1] if len(parts) > 3 and parts[-2] == "amazonaws" else aws_region(configured)
