"""cloudburst.compat: programs written for lm-deluge run on cloudburst with only the import
changed, and every lm-deluge keyword says what replaces it."""

from __future__ import annotations

import ast
import asyncio
import inspect
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from cloudburst import (
    AiohttpTransport,
    ConfigurationError,
    Document,
    Image,
    InProcessLimiter,
    RateLimits,
    Simulator,
    Text,
    Timeouts,
    ToolResult,
    UnknownModelError,
    get_model,
)
from cloudburst import Conversation as TypedConversation
from cloudburst import RetryPolicy as TypedRetry
from cloudburst import SamplingParams as TypedSampling
from cloudburst.compat import LM_DELUGE_NAMES, APIResponse, Conversation, File, LLMClient, Message, SamplingParams

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)
PDF = b"%PDF-1.4\n" + bytes(64)

# lm-deluge 0.0.168's README (PyPI `lm-deluge`, the wheel's METADATA), its quick-start examples
# transcribed as published, in order. Left out: Muse Spark and the queueing API
# (open/start_nowait/as_completed/close), MCP tools, the local cache (no example code).
README_0_0_168 = {
    "Quickstart": """
from lm_deluge import LLMClient

client = LLMClient("gpt-4.1-mini")
resps = client.process_prompts_sync(["Hello, world!"])
print(resps[0].completion)
""",
    "Spraying Across Models": """
from lm_deluge import LLMClient

client = LLMClient(
    ["gpt-4.1-mini", "claude-4.5-haiku"],
    max_requests_per_minute=10_000
)
resps = client.process_prompts_sync(
    ["Hello, ChatGPT!", "Hello, Claude!"]
)
print(resps[0].completion)
""",
    "Configuration": """
from lm_deluge import LLMClient, SamplingParams

client = LLMClient(
    "gpt-5.6",
    max_requests_per_minute=100,
    max_tokens_per_minute=500_000,
    max_concurrent_requests=500,
)

await client.process_prompts_async(
    ["What is the capital of Mars?"],
    show_progress=False,
    return_completions_only=True
)
""",
    "Multi-Turn Conversations": """
from lm_deluge import Message, Conversation

prompt = Conversation().system("You are a helpful assistant.").add(
    Message.user("What's in this image?").add_image("tests/image.jpg")
)

client = LLMClient("gpt-4.1-mini")
resps = client.process_prompts_sync([prompt])
""",
    "Files": """
from lm_deluge import LLMClient, Conversation

# Simple file upload
client = LLMClient("gpt-4.1-mini")
conversation = Conversation().user(
    "Please summarize this document",
    file="path/to/document.pdf"
)
resps = client.process_prompts_sync([conversation])

# You can also create File objects for more control
from lm_deluge import File
file = File("path/to/report.pdf", filename="Q4_Report.pdf")
conversation = Conversation().user("Analyze this financial report")
conversation.messages[0].parts.append(file)
""",
    "Tool Use": """
from lm_deluge import LLMClient, Tool

def get_weather(city: str) -> str:
    return f"The weather in {city} is sunny and 72°F"

tool = Tool.from_function(get_weather)
client = LLMClient("claude-4.5-haiku")
resps = client.process_prompts_sync(
    ["What's the weather in Paris?"],
    tools=[tool]
)

# you can iterate over the tool calls in the response automatically
for tool_call in resps[0].tool_calls:
    print(tool_call.name, tool_call.arguments)
""",
    "Prompt Caching (Anthropic)": """
from lm_deluge import LLMClient, Conversation, Message

# Create a conversation with system message
conv = (
    Conversation().system("You are an expert Python developer with deep knowledge of async programming.")
    .add(Message.user("How do I use asyncio.gather?"))
)

# Use prompt caching to cache system message and tools
client = LLMClient("claude-4.5-sonnet")
resps = client.process_prompts_sync(
    [conv],
    cache="system_and_tools"  # Cache system message and any tools
)
""",
    "Asynchronous Client": """
import asyncio

async def main():
    responses = await client.process_prompts_async(
        ["an async call"],
        return_completions_only=True,
    )
    print(responses[0])

asyncio.run(main())
""",
}

# lm-deluge 0.0.15's README (the `.basic` era): the examples whose models still exist.
README_0_0_15_MULTI_TURN = """
from lm_deluge import Message, Conversation

prompt = Conversation.system("You are a helpful assistant.").add(
    Message.user("What's in this image?").add_image("tests/image.jpg")
)

client = LLMClient.basic("gpt-4.1-mini")
resps = client.process_prompts_sync([prompt])
"""
README_0_0_15_CONFIGURATION = """
from lm_deluge import LLMClient, SamplingParams

client = LLMClient(
    "gpt-4",
    max_requests_per_minute=100,
    max_tokens_per_minute=100_000,
    max_concurrent_requests=500,
    sampling_params=SamplingParams(temperature=0.5, max_new_tokens=30)
)
"""


def _run(snippet: str, namespace: dict[str, Any]) -> list[warnings.WarningMessage]:
    """The snippet with only its import changed, run as a notebook cell would run it (top-level
    await allowed); the warnings it raised."""
    assert "from lm_deluge import" in snippet or "import asyncio" in snippet
    code = snippet.replace("from lm_deluge import", "from cloudburst.compat import")
    compiled = compile(code, "<lm-deluge README>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = eval(compiled, namespace)
        if inspect.iscoroutine(result):
            namespace["_"] = asyncio.run(result)
    return caught


@pytest.fixture
def readme_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The files the README's examples name, in a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    for name, data in (("tests/image.jpg", JPEG), ("path/to/document.pdf", PDF), ("path/to/report.pdf", PDF)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    return tmp_path


def test_lm_deluge_readme_examples_run_with_only_the_import_changed(
    sim_env: Simulator, readme_files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace: dict[str, Any] = {}
    for title, snippet in README_0_0_168.items():
        sent_before = sim_env.stats()["requests"]
        caught = _run(snippet, namespace)
        assert sim_env.stats()["requests"] > sent_before, title
        assert all(issubclass(w.category, DeprecationWarning) for w in caught), title
        assert all(w.filename == "<lm-deluge README>" for w in caught), (title, [w.filename for w in caught])
        assert all("in cloudburst write" in str(w.message) for w in caught), title
        if "resps" in snippet:
            responses = namespace["resps"]
            assert all(isinstance(r, APIResponse) for r in responses), title
            assert [r.is_error for r in responses] == [False] * len(responses), (title, responses[0].error_message)
            assert all(r.completion and r.output_tokens > 0 and r.cost > 0 for r in responses), title
        printed = capsys.readouterr().out
        if "print(resps[0].completion)" in snippet:
            assert namespace["resps"][0].completion in printed, title
        if title == "Asynchronous Client":
            assert printed.strip(), title

    report = namespace["conversation"].to_cloudburst().messages[0]
    assert [type(p) for p in report.parts] == [Text, Document]
    assert report.parts[1].filename == "Q4_Report.pdf"


def test_lm_deluge_0_0_15_basic_and_class_builders_run(sim_env: Simulator, readme_files: Path) -> None:
    namespace: dict[str, Any] = {"LLMClient": LLMClient}
    caught = _run(README_0_0_15_MULTI_TURN, namespace)
    (response,) = namespace["resps"]
    assert not response.is_error and response.completion
    assert any("LLMClient.basic" in str(w.message) for w in caught)
    sent = namespace["prompt"].to_cloudburst()
    assert [m.role for m in sent.messages] == ["system", "user"]
    assert sent.messages[1].parts[1] == Image(data=JPEG, media_type="image/jpeg")


def test_a_retired_model_of_an_old_readme_is_an_error_naming_ours(sim_env: Simulator) -> None:
    with pytest.raises(UnknownModelError, match="'gpt-4'") as raised:
        _run(README_0_0_15_CONFIGURATION, {})
    assert "gpt-4.1" in raised.value.suggestions
    with pytest.raises(UnknownModelError) as raised:
        LLMClient("claude-3-haiku")
    assert "claude-haiku-4-5" in raised.value.suggestions


def test_lm_deluge_model_names_map_to_ours() -> None:
    from cloudburst.compat._models import our_name

    for theirs, ours in LM_DELUGE_NAMES.items():
        assert get_model(ours).id == ours, theirs
    assert our_name("claude-4.5-haiku") == ("claude-haiku-4-5", None)
    assert our_name("gpt-4.1-mini") == ("gpt-4.1-mini", None)
    assert our_name("claude-4.5-sonnet-high") == ("claude-sonnet-4-5", "high")  # lm-deluge's effort suffix


class Recording(AiohttpTransport):
    """The default transport, keeping each request's JSON body."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, Any]] = []

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts, *, pool: str
    ) -> Any:
        self.bodies.append(orjson.loads(body))
        return await super().send(method, url, headers, body, timeouts, pool=pool)


class Configured(InProcessLimiter):
    """The in-process limiter, keeping the limits each bucket was given."""

    def __init__(self) -> None:
        super().__init__()
        self.limits: dict[str, RateLimits] = {}

    def configure(self, key: str, limits: RateLimits) -> None:
        self.limits[key] = limits
        super().configure(key, limits)


def test_each_old_keyword_warns_once_naming_its_typed_replacement(sim_env: Simulator) -> None:
    limiter = Configured()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = LLMClient(
            ["gpt-4.1-mini", "gpt-4o-mini"],
            max_requests_per_minute=100,
            max_tokens_per_minute=50_000,
            max_concurrent_requests=7,
            sampling_params=[SamplingParams(temperature=0.5)],
            model_weights=[3, 1],
            max_attempts=2,
            request_timeout=30,
            max_new_tokens=64,
            logprobs=True,
            top_logprobs=3,
            limiter=limiter,
        )
    replacements = {
        "max_requests_per_minute": "limits=RateLimits(rpm=...)",
        "max_tokens_per_minute": "limits=RateLimits(tpm=...)",
        "max_concurrent_requests": "limits=RateLimits(max_concurrency=...)",
        "sampling_params": "sampling=SamplingParams(...)",
        "model_weights": "weights=[...]",
        "max_attempts": "retry=RetryPolicy(max_attempts=...)",
        "request_timeout": "timeouts=Timeouts(total=...)",
        "max_new_tokens": "sampling=SamplingParams(max_new_tokens=...)",
        "logprobs": "sampling=SamplingParams(logprobs=...)",
        "top_logprobs": "sampling=SamplingParams(top_logprobs=...)",
    }
    messages = [str(w.message) for w in caught]
    assert all(w.category is DeprecationWarning and w.filename == __file__ for w in caught)
    assert len(messages) == len(replacements), messages
    for keyword, new in replacements.items():
        (said,) = [m for m in messages if f"LLMClient({keyword}=...)" in m]
        assert new in said

    assert client.sampling == TypedSampling(temperature=0.5, max_new_tokens=64, logprobs=True, top_logprobs=3)
    assert client.retry == TypedRetry(max_attempts=2) and client.timeouts == Timeouts(total=30)
    assert client.weights == [3.0, 1.0]
    for key in ("openai/gpt-4.1-mini", "openai/gpt-4o-mini"):  # lm-deluge's limits, per model
        given = limiter.limits[key]
        assert (given.rpm, given.tpm, given.max_concurrency) == (100, 50_000, 7)

    limiter = Configured()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LLMClient("gpt-5-nano", max_requests_per_minute=100, limiter=limiter)
    published = get_model("gpt-5-nano").rate_limits
    assert published is not None and published.tpm is not None
    given = limiter.limits["openai/gpt-5-nano"]  # the registry's published tier fills the rest
    assert (given.rpm, given.tpm) == (100, published.tpm)


def test_attempts_and_timeout_set_on_the_client_take_effect(sim_env: Simulator) -> None:
    client = LLMClient("gpt-4.1-mini")  # lm-deluge's own examples set these after building
    with pytest.warns(DeprecationWarning, match=r"RetryPolicy\(max_attempts=n\)"):
        client.max_attempts = 1
    with pytest.warns(DeprecationWarning, match=r"Timeouts\(total=s\)"):
        client.request_timeout = 30
    assert (client.retry.max_attempts, client.timeouts.total) == (1, 30)
    sim_env.configure(faults={"500": 1.0})
    assert client.run(["Hi"])[0].attempts == 1


def test_an_old_keyword_beside_its_typed_twin_is_an_error(sim_env: Simulator) -> None:
    with pytest.raises(ConfigurationError, match="max_attempts= and retry="), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LLMClient("gpt-4.1-mini", max_attempts=2, retry=TypedRetry(max_attempts=3))


def test_an_lm_deluge_keyword_without_counterpart_says_what_to_do_instead(sim_env: Simulator) -> None:
    with pytest.raises(ConfigurationError, match=r"postprocess=.*no counterpart.*list run\(\) returns"):
        LLMClient("gpt-4.1-mini", postprocess=lambda r: r)
    with pytest.raises(ConfigurationError, match="'dynamic' has no counterpart"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LLMClient(["gpt-4.1-mini", "gpt-4o-mini"], model_weights="dynamic")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_one_sampling_params_per_model_reaches_each_models_requests(sim_env: Simulator) -> None:
    transport = Recording()
    client = LLMClient(
        ["gpt-4.1-mini", "claude-4.5-haiku"],
        sampling_params=[SamplingParams(max_new_tokens=5), SamplingParams(max_new_tokens=50, temperature=0.3)],
        transport=transport,
        seed=1,
    )
    responses = client.process_prompts_sync([f"prompt {i}" for i in range(12)], show_progress=False)
    asyncio.run(transport.aclose())
    assert not any(r.is_error for r in responses)
    sent = {
        (body["model"], body["max_tokens"] if "max_tokens" in body else body["max_completion_tokens"])
        for body in transport.bodies
    }
    assert sent == {("gpt-4.1-mini", 5), ("claude-haiku-4-5", 50)}
    assert {body.get("temperature") for body in transport.bodies if body["model"] == "claude-haiku-4-5"} == {0.3}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_per_call_tools_cache_and_schema_reach_the_wire(sim_env: Simulator) -> None:
    from pydantic import BaseModel

    class Capital(BaseModel):
        city: str

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return "sunny"

    transport = Recording()
    client = LLMClient("claude-4.5-sonnet", transport=transport)
    conv = Conversation().system("Be brief.").add(Message.user("Call get_weather for Paris."))

    async def calls() -> list[APIResponse]:
        try:
            (called,) = await client.process_prompts_async([conv], tools=[get_weather], cache="system_and_tools")
            (parsed,) = await client.process_prompts_async(["Capital of France?"], output_schema=Capital)
            return [called, parsed, *await client.process_prompts_async(["Again."])]
        finally:
            await transport.aclose()

    called, parsed, _ = asyncio.run(calls())

    assert [(c.name, set(c.arguments or {})) for c in called.tool_calls] == [("get_weather", {"city"})]
    first, second, third = transport.bodies
    assert first["system"][-1]["cache_control"]["type"] == "ephemeral"
    assert first["tools"][-1]["cache_control"]["type"] == "ephemeral"
    assert isinstance(parsed.parsed, Capital)
    assert "tools" not in second and "tools" not in third  # a call's settings stay with that call
    assert client.sampling.output_schema is None


def test_results_read_as_lm_deluge_reads_them(sim_env: Simulator, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = LLMClient("gpt-4.1-mini", max_attempts=1, cache=str(tmp_path / "answers.sqlite"))
        first, refused = client.process_prompts_sync(["Hello there!", 42], show_progress=False)
        again = client.process_prompts_sync(["Hello there!"], show_progress=False)[0]
        sim_env.configure(faults={"500": 1.0})
        failed = client.process_prompts_sync(["Something new"], show_progress=False)[0]
        completions = client.process_prompts_sync(["Hello there!"], return_completions_only=True)

    assert (first.is_error, first.error_message, first.status_code) == (False, None, 200)
    assert first.input_tokens == first.usage.input_tokens > 0 and first.output_tokens == first.usage.output_tokens > 0
    assert first.model_internal == "gpt-4.1-mini" and first.model_external and first.cost > 0
    assert first.content is not None and first.content.text == first.completion
    assert not first.local_cache_hit and again.local_cache_hit and again.completion == first.completion
    assert refused.is_error and "int" in (refused.error_message or "")  # its own result; the other kept
    assert failed.is_error and failed.status_code == 500 and failed.error_message and failed.completion is None
    assert completions == [first.completion]


def test_conversation_builders_make_cloudburst_conversations() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started_on_class = Conversation.system("Be brief.").user("Hi").ai("Hello!")
        built_in_place = Conversation()
        built_in_place.system("Be brief.")
        built_in_place.user("Hi")
        built_in_place.add(Message.ai("Hello!"))
        with_tool = Conversation.user("Weather?").with_tool_result("call_1", {"temp": 20})
        imported = Conversation.from_openai_chat([{"role": "user", "content": "Hi"}])
    expected = TypedConversation.system("Be brief.").user("Hi").assistant("Hello!")
    assert started_on_class.to_cloudburst() == expected == built_in_place.to_cloudburst()
    assert with_tool.to_cloudburst().messages[1].parts == (ToolResult("call_1", {"temp": 20}),)
    assert imported.to_cloudburst() == TypedConversation.of("Hi")
    said = " | ".join(str(w.message) for w in caught)
    assert "Conversation.assistant(text)" in said and "Conversation.add_message(message)" in said
    assert all(w.filename == __file__ for w in caught)


def test_file_and_image_inputs_become_typed_parts(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(PDF)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        message = (
            Message.user("Look")
            .with_image(JPEG)
            .with_image("https://example.com/cat.png", detail="low")
            .with_file(str(tmp_path / "a.pdf"), filename="report.pdf")
        )
    assert message.to_cloudburst().parts == (
        Text("Look"),
        Image(data=JPEG, media_type="image/jpeg"),
        Image(url="https://example.com/cat.png", detail="low"),
        Document(data=PDF, filename="report.pdf"),
    )
    assert File(b"hello", media_type="text/plain") == Document(data=b"hello", media_type="text/plain")
    assert File(file_id="file-1") == Document(file_id="file-1")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fallback_models_and_the_responses_api(sim_env: Simulator) -> None:
    client = LLMClient("gpt-4.1-mini", fallback_models=["claude-4.5-haiku"], use_responses_api=True)
    assert [m.id for m in client.models] == ["gpt-4.1-mini@responses", "claude-haiku-4-5"]
    assert client.weights == [1.0, 0.0]  # weight 0: retries only
    (response,) = client.process_prompts_sync(["Hi"], show_progress=False)
    assert not response.is_error and response.model_internal == "gpt-4.1-mini@responses"
