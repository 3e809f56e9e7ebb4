"""AWS Signature Version 4 as Bedrock checks it: the `Authorization` header's form and scope, and,
given the secret, the signature itself (recomputed as botocore's signer computes it).

Only what a request signed by botocore for `bedrock` needs: header signing (not presigned
URLs), a payload hash of the body unless `x-amz-content-sha256` gives one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote

from cloudburst._sim.provider import Problem

SERVICE = "bedrock"
HEADER = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


def access_key(authorization: str) -> str | None:
    """The access key id of a well-formed SigV4 header."""
    signed = HEADER.fullmatch(authorization.strip())
    return signed["key"] if signed else None


def form_problem(authorization: str, amz_date: str | None) -> Problem | None:
    """What is wrong with a SigV4 header before its signature is looked at, as AWS words it."""
    signed = HEADER.fullmatch(authorization.strip())
    if signed is None:
        return Problem(
            403,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters, "
            f"as in AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/{SERVICE}/aws4_request. Authorization={authorization}",
        )
    if not amz_date:
        return Problem(
            403,
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    if signed["service"] != SERVICE:
        return Problem(
            403, "InvalidSignatureException", f"Credential should be scoped to correct service: '{SERVICE}'."
        )
    if amz_date[:8] != signed["date"]:
        return Problem(
            403,
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed['date']}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    if not {"host", "x-amz-date"} <= set(signed["signed"].split(";")):
        return Problem(
            403, "InvalidSignatureException", "'Host' and 'X-Amz-Date' must be SignedHeaders in the AWS Authorization."
        )
    return None


def _canonical_query(raw: str) -> str:
    pairs = []
    for item in raw.split("&") if raw else ():
        name, _, value = item.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signature(
    secret: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    authorization: str,
) -> str | None:
    """The signature the request should carry if signed with `secret`; None if the header is malformed."""
    signed = HEADER.fullmatch(authorization.strip())
    if signed is None:
        return None
    names = signed["signed"].split(";")
    canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in names)
    payload = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        (
            method,
            quote(raw_path or "/", safe="/~"),
            _canonical_query(raw_query),
            canonical_headers,
            signed["signed"],
            payload,
        )
    )
    scope = f"{signed['date']}/{signed['region']}/{signed['service']}/aws4_request"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", headers.get("x-amz-date", ""), scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = _hmac(("AWS4" + secret).encode(), signed["date"])
    for part in (signed["region"], signed["service"], "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(
    secret: str, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes
) -> Problem | None:
    """None if the request's SigV4 signature is the one `secret` gives, else AWS's 403."""
    authorization = headers.get("authorization", "")
    signed = HEADER.fullmatch(authorization.strip())
    expected = signature(secret, method, raw_path, raw_query, headers, body, authorization)
    if signed is not None and expected is not None and hmac.compare_digest(signed["signature"], expected):
        return None
    return Problem(
        403,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.",
    )
