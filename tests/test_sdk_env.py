"""Each provider variable means to cloudburst what it means to the provider's official SDK: the
same environment sends both to the same place, with the same key and headers, through the same
proxy. Checked against the simulator over loopback, with the SDKs themselves where they run."""

from __future__ import annotations

import http.client
import http.server
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import botocore.session
import openai
import pytest
import yarl
from google import genai

import cloudburst
from cloudburst import LLMClient, SimConfig, Simulator, _aws
from cloudburst._transport import environment_proxies, proxy_for

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "transfer-encoding"}


class Proxy(http.server.ThreadingHTTPServer):
    """A forwarding HTTP proxy on loopback that records what passes through it."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        """(method, absolute URL, headers) of each request it forwarded."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Proxy

    def _forward(self) -> None:
        target = yarl.URL(self.path)
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.seen.append((self.command, self.path, dict(self.headers.items())))
        upstream = http.client.HTTPConnection(target.host or "", target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(self.command, target.path_qs, body, headers)
        answer = upstream.getresponse()
        content = answer.read()
        upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP | {"content-length"}:
                self.send_header(name, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_DELETE = _forward

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    server = Proxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run(model: str, **client: object) -> cloudburst.APIResponse:
    [response] = LLMClient(model, progress=None, **client).run(["Hello"])  # type: ignore[arg-type]
    return response


# base URLs ----------------------------------------------------------------------------------


def test_anthropic_base_url_is_the_host_for_the_sdk_and_cloudburst_alike(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    sdk = anthropic.Anthropic(max_retries=0).messages.create(
        model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "Hello"}]
    )
    assert sdk.content
    assert cloudburst.render("claude-haiku-4-5", "Hello").url == f"{sim.url}/v1/messages"
    assert run("claude-haiku-4-5").completion
    assert sim.env()["ANTHROPIC_BASE_URL"] == sim.url


def test_gemini_base_url_is_the_host_for_google_genai_and_cloudburst_alike(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", sim.url + "/")
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-test")
    # google-genai adds its API version (GOOGLE_GENAI_API_VERSION, else v1); cloudburst adds v1beta
    monkeypatch.setenv("GOOGLE_GENAI_API_VERSION", "v1beta")
    sdk = genai.Client()
    assert sdk.models.generate_content(model="gemini-2.5-flash", contents="Hello").text
    assert (
        cloudburst.render("gemini-2.5-flash", "Hello").url
        == f"{sim.url}/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert run("gemini-2.5-flash").completion


def test_gemini_uploads_keep_the_path_of_a_base_url_as_google_genai_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from google.genai._api_client import join_url_path

    from cloudburst._files import expand_url
    from cloudburst.generated import PROVIDERS

    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "https://gateway.example/gemini")
    base = cloudburst.render("gemini-2.5-flash", "Hello").url.split("/models/")[0]
    upload = PROVIDERS["gemini"].files.upload
    assert upload is not None
    sdk = join_url_path("https://gateway.example/gemini", "upload/v1beta/files")
    assert expand_url(upload.url, base) == sdk == "https://gateway.example/gemini/upload/v1beta/files"


def test_openai_base_url_keeps_its_v1(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"{sim.url}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    sdk = openai.OpenAI(max_retries=0).chat.completions.create(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "Hello"}]
    )
    assert sdk.choices[0].message.content
    assert run("gpt-4.1-mini").completion


def test_groq_base_url_is_the_host_as_the_groq_sdk_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_BASE_URL", "http://127.0.0.1:9")
    assert cloudburst.render("llama-3.3-70b-versatile", "Hi").url == "http://127.0.0.1:9/openai/v1/chat/completions"


# keys ---------------------------------------------------------------------------------------


def test_google_api_key_comes_before_gemini_api_key_as_in_google_genai(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sim.configure(SimConfig(keys=frozenset({"AIza-right"})))
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", sim.url)
    monkeypatch.setenv("GOOGLE_GENAI_API_VERSION", "v1beta")
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-right")
    assert run("gemini-2.5-flash").completion  # GEMINI_API_KEY alone
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-wrong")
    with caplog.at_level(logging.WARNING, logger="cloudburst"):
        assert isinstance(run("gemini-2.5-flash").error, cloudburst.AuthError)
    assert "GOOGLE_API_KEY and GEMINI_API_KEY are both set; using GOOGLE_API_KEY" in caplog.text
    sdk = genai.Client()
    with pytest.raises(genai.errors.ClientError, match="API key not valid"):  # the SDK picks the same key
        sdk.models.generate_content(model="gemini-2.5-flash", contents="Hello")
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-right")
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-wrong")
    assert run("gemini-2.5-flash").completion
    sdk = genai.Client()
    assert sdk.models.generate_content(model="gemini-2.5-flash", contents="Hello").text


def test_a_missing_gemini_key_names_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(cloudburst.ConfigurationError, match="set GOOGLE_API_KEY or GEMINI_API_KEY or pass api_keys"):
        LLMClient("gemini-2.5-flash", progress=None)


# OpenAI's organisation and project -----------------------------------------------------------


def test_openai_org_and_project_are_the_sdks_headers_on_every_request(
    sim: Simulator, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-test")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_test")
    sdk_headers = openai.OpenAI(api_key="sk-test").default_headers
    rendered = cloudburst.render("gpt-4.1-mini", "Hello").headers
    for name in ("OpenAI-Organization", "OpenAI-Project"):
        assert rendered[name] == sdk_headers[name]
    monkeypatch.setenv("HTTP_PROXY", proxy.url)  # to see what goes on the wire
    assert run("gpt-4.1-mini", base_urls=sim.base_urls(), api_keys={"openai": "sk-test"}).completion
    [(_, _, sent)] = proxy.seen
    assert (sent["OpenAI-Organization"], sent["OpenAI-Project"]) == ("org-test", "proj_test")


def test_openai_org_unset_sends_no_header() -> None:
    assert "OpenAI-Organization" not in cloudburst.render("gpt-4.1-mini", "Hello").headers


# Bedrock ------------------------------------------------------------------------------------


@pytest.fixture
def aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Shared AWS config and credentials files of the test's own, with a `work` profile."""
    config = tmp_path / "config"
    config.write_text("[default]\n[profile work]\nregion = ap-south-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[work]\naws_access_key_id = AKIDTEST\naws_secret_access_key = secret\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    _aws._credentials.cache_clear()
    yield config
    _aws._credentials.cache_clear()


def botocore_client() -> Any:
    return botocore.session.get_session().create_client("bedrock-runtime")


def test_bedrock_endpoint_variables_in_botocores_order(aws_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert botocore_client().meta.endpoint_url == "http://127.0.0.1:9"
    assert cloudburst.render("bedrock-claude-haiku-4-5", "Hi").url.startswith("http://127.0.0.1:9/model/")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:10")
    assert botocore_client().meta.endpoint_url == "http://127.0.0.1:10"
    assert cloudburst.render("bedrock-claude-haiku-4-5", "Hi").url.startswith("http://127.0.0.1:10/model/")


@pytest.mark.parametrize(
    ("variables", "region"),
    [
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
        ({"AWS_PROFILE": "work"}, "ap-south-1"),
        ({"AWS_DEFAULT_PROFILE": "work"}, "ap-south-1"),
        ({"AWS_PROFILE": "work", "AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
    ],
)
def test_bedrock_region_as_botocore_resolves_it(
    aws_files: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], region: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert botocore_client().meta.region_name == region
    url = cloudburst.render("bedrock-claude-haiku-4-5", "Hi").url
    assert url.startswith(f"https://bedrock-runtime.{region}.amazonaws.com/model/")


def test_bedrock_aws_region_comes_first_as_in_the_aws_cli(aws_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore reads only AWS_DEFAULT_REGION; the AWS CLI and the other AWS SDKs read AWS_REGION
    first, and Lambda sets it: cloudburst takes it first too."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert cloudburst.render("bedrock-claude-haiku-4-5", "Hi").url.startswith("https://bedrock-runtime.us-west-2.")


def test_bedrock_requests_to_an_endpoint_of_ones_own_are_signed_for_the_configured_region(
    sim: Simulator, proxy: Proxy, aws_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", sim.url)  # the global one: every AWS service
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert run("bedrock-claude-haiku-4-5").completion
    [(_, url, sent)] = proxy.seen
    assert url.startswith(f"{sim.url}/model/")
    assert "/ap-south-1/bedrock/aws4_request" in sent["Authorization"]


# proxies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_requests_go_through_the_proxy_the_environment_names(
    sim: Simulator, proxy: Proxy, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, proxy.url)
    client = LLMClient("gpt-4.1-mini", progress=None, base_urls=sim.base_urls(), api_keys={"openai": "sk-test"})
    results = client.run(["one", "two", "three"])
    assert all(r.completion for r in results)
    assert sorted(method for method, _, _ in proxy.seen) == ["POST"] * 3
    assert {url for _, url, _ in proxy.seen} == {f"{sim.url}/v1/chat/completions"}


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "localhost,127.0.0.1"])
def test_no_proxy_hosts_are_reached_directly(
    sim: Simulator, proxy: Proxy, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert run("gpt-4.1-mini", base_urls=sim.base_urls(), api_keys={"openai": "sk-test"}).completion
    assert proxy.seen == []


def test_proxy_credentials_go_to_the_proxy_only(sim: Simulator, proxy: Proxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://user:p%40ss@"))
    assert run("gpt-4.1-mini", base_urls=sim.base_urls(), api_keys={"openai": "sk-test"}).completion
    [(_, _, sent)] = proxy.seen
    assert sent["Proxy-Authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss


def test_https_targets_take_https_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.internal:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://other.internal:8080")
    monkeypatch.setenv("NO_PROXY", ".example.com")
    proxies = environment_proxies()
    assert proxy_for(yarl.URL("https://api.openai.com/v1/chat/completions"), proxies) == (
        yarl.URL("http://proxy.internal:3128"),
        None,
    )
    assert proxy_for(yarl.URL("https://api.example.com/v1"), proxies) is None


def test_a_socks_proxy_is_refused_before_sending(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://user:secret@127.0.0.1:1080")
    client = LLMClient("gpt-4.1-mini", progress=None, base_urls=sim.base_urls(), api_keys={"openai": "sk-test"})
    with pytest.raises(cloudburst.ConfigurationError, match=r"ALL_PROXY is socks5://127\.0\.0\.1:1080") as caught:
        client.run(["Hello"])
    assert "secret" not in str(caught.value)
    assert sim.stats()["requests"] == 0
