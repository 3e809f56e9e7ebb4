"""client.embed end to end against the simulator: texts packed to each provider's limits and
reassembled in input order, options mapped (or refused before sending), a text over the
model's limit an error on its own result (or cut when asked), cost split exactly."""

from __future__ import annotations

import asyncio
import base64
import math
import sys
import typing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cloudburst import EmbeddingOptions, Image, LLMClient, SimConfig, Simulator, get_model
from cloudburst._config import RateLimits, RetryPolicy, Timeouts
from cloudburst._embedding import InlineImage
from cloudburst._errors import ConfigurationError, ContextOverflowError, InputError, UnsupportedOptionError
from cloudburst._sim import answers
from cloudburst._tokens import encoding
from cloudburst.generated.cohere import embeddings as cohere_embeddings
from cloudburst.generated.gemini import embeddings as gemini_embeddings
from cloudburst.generated.mistral import embeddings as mistral_embeddings
from cloudburst.generated.openai import embeddings as openai_embeddings
from tests.official_types import problems

KEYS = {"openai": "sk-test", "cohere": "co-test", "gemini": "g-test", "mistral": "m-test"}


def client_on(sim: Simulator, models: list[str], **settings: Any) -> LLMClient:
    return LLMClient(models, base_urls=sim.base_urls(), api_keys=KEYS, progress=None, seed=1, **settings)


def test_openai_body_is_the_sdks_embedding_create_params() -> None:
    from openai.types import EmbeddingCreateParams

    options = EmbeddingOptions(dimensions=256, output_types=("float",))
    openai_embeddings.check(options)
    body = openai_embeddings.build_body("text-embedding-3-small", ["a", "b"], options)
    assert body == {
        "model": "text-embedding-3-small",
        "input": ["a", "b"],
        "dimensions": 256,
        "encoding_format": "float",
    }
    assert problems(body, EmbeddingCreateParams) == []


def test_cohere_body_takes_the_sdks_embed_arguments() -> None:
    import cohere

    options = EmbeddingOptions(dimensions=512, input_kind="query", truncation="start", output_types=("float", "int8"))
    cohere_embeddings.check(options)
    body = cohere_embeddings.build_body("embed-v4.0", ["a"], options)
    assert body == {
        "model": "embed-v4.0",
        "texts": ["a"],
        "input_type": "search_query",
        "output_dimension": 512,
        "truncate": "START",
        "embedding_types": ["float", "int8"],
    }
    hints = typing.get_type_hints(cohere.ClientV2.embed)
    for key, value in body.items():
        assert problems(value, hints[key], key) == []
    # input_type is required from v3 models on: documents unless asked otherwise
    assert cohere_embeddings.build_body("embed-v4.0", ["a"], EmbeddingOptions())["input_type"] == "search_document"


def test_texts_come_back_in_input_order_across_packs_as_the_model_draws_them(sim: Simulator) -> None:
    texts = [f"text number {i}" for i in range(5000)]
    client = client_on(sim, ["text-embedding-3-small"])
    results = client.embed(texts)
    assert [r.index for r in results] == list(range(5000))
    assert all(r.ok for r in results)
    assert sim.stats()["requests"] == math.ceil(5000 / 2048)  # OpenAI's 2,048 inputs a request
    for i in (0, 2047, 2048, 4999):
        assert results[i].vector == pytest.approx(answers.embedding(texts[i], 1536))
        assert sum(x * x for x in results[i].vector or ()) == pytest.approx(1.0)


def test_cohere_packs_96_texts_and_returns_each_type_asked(sim: Simulator) -> None:
    client = client_on(sim, ["embed-v4.0"])
    options = EmbeddingOptions(dimensions=256, output_types=("float", "int8"), input_kind="query")
    results = client.embed([f"doc {i}" for i in range(200)], options=options)
    assert sim.stats()["requests"] == 3
    first = results[0]
    assert first.vector is not None and len(first.vector) == 256
    assert set(first.vectors) == {"float", "int8"}
    assert len(first.vectors["int8"]) == 256 and all(isinstance(x, int) for x in first.vectors["int8"])
    assert first.vector == pytest.approx(answers.embedding("doc 0", 256))


def test_an_option_the_provider_lacks_is_refused_before_sending(sim: Simulator) -> None:
    client = client_on(sim, ["text-embedding-3-small"])
    with pytest.raises(UnsupportedOptionError, match="input_kind"):
        client.embed(["a"], options=EmbeddingOptions(input_kind="query"))
    with pytest.raises(UnsupportedOptionError, match="int8"):
        client.embed(["a"], options=EmbeddingOptions(output_types=("int8",)))
    assert sim.stats()["requests"] == 0


def test_a_text_over_the_models_limit_is_an_error_on_its_own_result(sim: Simulator) -> None:
    long = "word " * 9000  # 9,000 tokens, over text-embedding-3-small's 8,191
    client = client_on(sim, ["text-embedding-3-small"])
    results = client.embed(["short", long, "", "also short"])
    assert results[0].ok and results[3].ok
    assert isinstance(results[1].error, ContextOverflowError) and "truncation" in str(results[1].error)
    assert isinstance(results[2].error, InputError)
    assert sim.stats()["requests"] == 1
    tracker = client.tracker  # progress counts texts, not requests
    assert (tracker.total, tracker.done, tracker.succeeded, tracker.failed) == (4, 4, 2, 2)
    assert tracker.errors == {"context_overflow": 1, "input": 1}


def test_truncation_cuts_the_text_to_the_models_limit_as_openai_counts_it(sim: Simulator) -> None:
    long = "word " * 9000
    client = client_on(sim, ["text-embedding-3-small"])
    (end,) = client.embed([long], options=EmbeddingOptions(truncation="end"))
    cut = encoding().decode(encoding().encode(long)[:8191])
    assert end.ok and end.vector == pytest.approx(answers.embedding(cut, 1536))
    assert end.usage.input_tokens == 8191


def test_the_simulator_refuses_what_openai_refuses(sim: Simulator) -> None:
    import httpx

    url = sim.base_urls()["openai"] + "/embeddings"
    headers = {"authorization": "Bearer sk-test"}
    too_many = httpx.post(url, json={"model": "text-embedding-3-small", "input": ["a"] * 2049}, headers=headers)
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "array_above_max_length"
    too_long = httpx.post(url, json={"model": "text-embedding-3-small", "input": ["word " * 9000]}, headers=headers)
    assert too_long.status_code == 400 and "maximum context length" in too_long.json()["error"]["message"]


def test_shares_of_usage_and_cost_add_up_to_what_was_billed(sim: Simulator) -> None:
    client = client_on(sim, ["text-embedding-3-small"])
    results = client.embed([("many words " * (i % 7)) + str(i) for i in range(3000)])
    billed = client.tracker.input_tokens
    assert billed > 0 and sum(r.usage.input_tokens for r in results) == billed
    assert sum(r.cost for r in results) == pytest.approx(client.tracker.cost)
    assert client.tracker.cost == pytest.approx(billed * 0.02 / 1e6)


def test_under_faults_every_text_ends_once_in_order(sim: Simulator) -> None:
    sim.configure(faults=SimConfig.spread_faults(0.2), hang_s=3.0)
    client = client_on(
        sim,
        ["embed-v4.0"],
        retry=RetryPolicy(max_attempts=10, backoff_base=0.005, backoff_cap=0.02),
        timeouts=Timeouts(connect=1.0, first_byte=1.0, total=2.0),
    )
    texts = [f"t{i}" for i in range(96 * 30)]
    results = client.embed(texts, options=EmbeddingOptions(dimensions=64))
    assert [r.index for r in results] == list(range(len(texts)))
    assert all(r.ok for r in results), Counter(type(r.error).__name__ for r in results)
    assert client.tracker.retries > 0
    assert results[-1].vector == pytest.approx(answers.embedding(texts[-1], 64))


def test_a_generator_of_texts_streams_each_result_once(sim: Simulator) -> None:
    client = client_on(sim, ["text-embedding-3-small"])

    async def collect() -> list[int]:
        return [e.index async for e in client.embed_as_completed(f"line {i}" for i in range(4100))]

    indices = asyncio.run(collect())
    assert sorted(indices) == list(range(4100))


def test_embedding_models_are_the_clients_and_do_not_run_prompts(sim: Simulator) -> None:
    chat = client_on(sim, ["gpt-4.1-mini"])
    with pytest.raises(ConfigurationError, match="list it in LLMClient"):
        chat.embed(["a"], model="text-embedding-3-small")
    both = client_on(sim, ["gpt-4.1-mini", "text-embedding-3-small"])
    assert both.embed(["a"])[0].ok
    with pytest.raises(ConfigurationError, match="use embed"):
        both.run(["hello"])


def test_gemini_body_is_what_google_genai_sends() -> None:
    from google.genai import _api_client, models

    options = EmbeddingOptions(dimensions=64, input_kind="query")
    gemini_embeddings.check(options)
    body = gemini_embeddings.build_body("gemini-embedding-001", ["a", "b"], options)
    config = {"task_type": "RETRIEVAL_QUERY", "output_dimensionality": 64}
    sent = models._EmbedContentParametersPrivate_to_mldev(
        _api_client.BaseApiClient(api_key="x"),
        {"model": "gemini-embedding-001", "contents": ["a", "b"], "config": config},
    )
    theirs = [{**r, "content": r["content"].model_dump(exclude_none=True, exclude={"role"})} for r in sent["requests"]]
    assert body == {"requests": theirs}


def test_mistral_body_is_the_sdks_embedding_request() -> None:
    from mistralai.client.models import EmbeddingRequest

    options = EmbeddingOptions(dimensions=256, output_types=("int8",))
    mistral_embeddings.check(options)
    body = mistral_embeddings.build_body("codestral-embed", ["a", "b"], options)
    assert body == {"model": "codestral-embed", "input": ["a", "b"], "output_dimension": 256, "output_dtype": "int8"}
    assert EmbeddingRequest.model_validate(body).model_dump(exclude_none=True, by_alias=True) == body


def test_gemini_packs_100_texts_with_each_entrys_settings(sim: Simulator) -> None:
    client = client_on(sim, ["gemini-embedding-001"])
    results = client.embed(
        [f"g{i}" for i in range(250)], options=EmbeddingOptions(dimensions=64, input_kind="document")
    )
    assert sim.stats()["requests"] == 3
    assert all(r.ok for r in results)
    assert results[249].vector == pytest.approx(answers.embedding("g249", 64))
    assert sum(r.usage.input_tokens for r in results) == client.tracker.input_tokens > 0


def test_mistral_returns_the_dtype_asked_and_refuses_truncation(sim: Simulator) -> None:
    client = client_on(sim, ["mistral-embed"])
    results = client.embed([f"m{i}" for i in range(600)])
    assert sim.stats()["requests"] == 2  # 512 texts a request
    assert results[599].vector == pytest.approx(answers.embedding("m599", 1024))
    with pytest.raises(UnsupportedOptionError, match="truncation"):
        client.embed(["a"], options=EmbeddingOptions(truncation="end"))
    (packed,) = client.embed(["m0"], options=EmbeddingOptions(output_types=("binary",)))
    assert packed.vector is None and len(packed.vectors["binary"]) == 1024 // 8


def test_a_token_limit_is_held_on_the_tokens_sent_without_a_429(sim: Simulator) -> None:
    sim.configure(tpm=120_000, window_seconds=1.0)  # about 7,000 tokens sent: a few seconds of budget
    client = client_on(sim, ["embed-v4.0"], limits=RateLimits(tpm=120_000))
    results = client.embed([f"a text of several words, number {i}" for i in range(600)])
    assert all(r.ok for r in results)
    assert sim.stats()["rate_limited"] == {}
    assert client.tracker.attempts == sim.stats()["requests"] == math.ceil(600 / 96)


def test_the_response_cache_answers_a_repeated_job_for_nothing(sim: Simulator, tmp_path: Path) -> None:
    texts = [f"cached {i}" for i in range(300)]
    first = client_on(sim, ["embed-v4.0"], cache=tmp_path / "cache.sqlite").embed(texts)
    sent = sim.stats()["requests"]
    again = client_on(sim, ["embed-v4.0"], cache=tmp_path / "cache.sqlite").embed(texts)
    assert sim.stats()["requests"] == sent
    assert [r.vector for r in again] == [r.vector for r in first]
    assert sum(r.cost for r in again) == 0 < sum(r.cost for r in first)


def test_base64_vectors_travel_as_float32_and_come_back_as_floats(sim: Simulator) -> None:
    openai = client_on(sim, ["text-embedding-3-small"])
    (small,) = openai.embed(["b64"], options=EmbeddingOptions(output_types=("base64",)))
    assert small.vector == pytest.approx(answers.embedding("b64", 1536), abs=1e-7)
    cohere = client_on(sim, ["embed-v4.0"])
    (both,) = cohere.embed(["b64"], options=EmbeddingOptions(output_types=("float", "base64"), dimensions=32))
    assert both.vectors["base64"] == pytest.approx(both.vectors["float"], abs=1e-7)


def test_bedrock_titan_takes_one_text_a_request_signed_with_sigv4(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudburst import _aws

    sim.configure(aws_secret_access_key="sim-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSIM")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sim-secret")
    _aws._credentials.cache_clear()
    try:
        client = LLMClient(["bedrock-titan-embed-text-v2"], base_urls=sim.base_urls(), progress=None)
        results = client.embed([f"titan {i}" for i in range(30)], options=EmbeddingOptions(dimensions=256))
    finally:
        _aws._credentials.cache_clear()
    assert all(r.ok for r in results), results[0].error
    assert sim.stats()["requests"] == 30
    assert results[29].vector == pytest.approx(answers.embedding("titan 29", 256))
    assert results[0].usage.input_tokens > 0
    with pytest.raises(UnsupportedOptionError, match="input_kind"):
        client.embed(["a"], options=EmbeddingOptions(input_kind="query"))


def test_bedrock_cohere_packs_96_and_reads_the_token_count_from_bedrocks_header(sim: Simulator) -> None:
    client = LLMClient(
        ["bedrock-cohere-embed-v4"], base_urls=sim.base_urls(), api_keys={"bedrock": "ABSK-test"}, progress=None
    )
    results = client.embed([f"cohere on bedrock {i}" for i in range(200)], options=EmbeddingOptions(input_kind="query"))
    assert sim.stats()["requests"] == 3
    assert results[199].vector == pytest.approx(answers.embedding("cohere on bedrock 199", 1536))
    billed = sum(
        answers.prompt_tokens([f"cohere on bedrock {i}" for i in range(s, min(s + 96, 200))], 0) - 3
        for s in range(0, 200, 96)
    )
    assert sum(r.usage.input_tokens for r in results) == billed == client.tracker.input_tokens


def test_a_long_run_of_unsendable_texts_gets_each_its_own_result(sim: Simulator) -> None:
    client = client_on(sim, ["mistral-embed"])
    results = client.embed([*[""] * 2501, "the only text"])
    assert [r.ok for r in results] == [False] * 2501 + [True]
    assert sim.stats()["requests"] == 1
    (too_long,) = client.embed(["word " * 12000])  # surely over 8,192 tokens, whatever Mistral's tokenizer
    assert isinstance(too_long.error, ContextOverflowError)
    assert "truncation" not in str(too_long.error)  # Mistral cuts nothing: no hint to ask it to


def test_as_numpy_gives_float32_arrays_that_stack_into_the_jobs_matrix(sim: Simulator) -> None:
    import numpy

    client = client_on(sim, ["embed-v4.0"])
    options = EmbeddingOptions(dimensions=64, output_types=("float", "int8", "ubinary"))
    texts = [f"doc {i}" for i in range(150)]
    results = client.embed(["", *texts], options=options, as_numpy=True)
    assert results[0].error is not None and results[0].vector is None
    first = results[1]
    assert isinstance(first.vector, numpy.ndarray) and first.vector.dtype == numpy.float32
    assert first.vector is first.vectors["float"]
    assert first.vectors["int8"].dtype == numpy.int8 and first.vectors["ubinary"].dtype == numpy.uint8
    assert first.vector.tolist() == pytest.approx(answers.embedding("doc 0", 64), abs=1e-7)
    matrix = numpy.stack([r.vector for r in results[1:]])
    assert matrix.shape == (150, 64)
    assert numpy.linalg.norm(matrix, axis=1) == pytest.approx(numpy.ones(150), abs=1e-6)


def test_as_numpy_without_numpy_says_how_to_install_it_before_sending(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # what `import numpy` meets where it is not installed
    client = client_on(sim, ["embed-v4.0"])
    with pytest.raises(ConfigurationError, match="pip install numpy"):
        client.embed(["a"], as_numpy=True)
    assert sim.stats()["requests"] == 0
    assert client.embed(["a"])[0].ok


PNG = Image(data=b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, media_type="image/png")


def test_cohere_images_go_among_texts_as_inputs_the_sdk_takes() -> None:
    import cohere

    image = InlineImage(base64.b64encode(PNG.data or b"").decode(), "image/png")
    body = cohere_embeddings.build_body("embed-v4.0", ["a caption", image], EmbeddingOptions(dimensions=256))
    assert body["inputs"] == [
        {"content": [{"type": "text", "text": "a caption"}]},
        {"content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image.data}"}}]},
    ]
    assert "texts" not in body and body["input_type"] == "search_document"
    for entry in body["inputs"]:
        assert cohere.EmbedInput.model_validate(entry).model_dump(exclude_none=True, by_alias=True) == entry
    assert cohere_embeddings.build_body("embed-v4.0", ["a"], EmbeddingOptions())["texts"] == ["a"]


def test_gemini_image_entries_are_what_google_genai_sends() -> None:
    from google.genai import _api_client, models, types

    assert PNG.data is not None
    image = InlineImage(base64.b64encode(PNG.data).decode(), "image/png")
    options = EmbeddingOptions(dimensions=64, input_kind="document")
    body = gemini_embeddings.build_body("gemini-embedding-2", [image, "b"], options)
    sent = models._EmbedContentParametersPrivate_to_mldev(
        _api_client.BaseApiClient(api_key="x"),
        {
            "model": "gemini-embedding-2",
            "contents": [types.Content(parts=[types.Part.from_bytes(data=PNG.data, mime_type="image/png")]), "b"],
            "config": {"task_type": "RETRIEVAL_DOCUMENT", "output_dimensionality": 64},
        },
    )
    content = [
        r["content"].model_dump(mode="json", exclude_none=True, by_alias=True, exclude={"role"})
        for r in sent["requests"]
    ]
    blob = content[0]["parts"][0]["inlineData"]  # the SDK writes URL-safe base64; the API reads both
    blob["data"] = base64.b64encode(base64.urlsafe_b64decode(blob["data"])).decode()
    theirs = [{**r, "content": c} for r, c in zip(sent["requests"], content, strict=True)]
    assert body == {"requests": theirs}


@pytest.mark.parametrize("model", ["embed-v4.0", "gemini-embedding-2"])
def test_images_embed_among_texts_in_order_where_the_model_embeds_them(sim: Simulator, model: str) -> None:
    client = client_on(sim, [model])
    other = Image(url="data:image/jpeg;base64," + base64.b64encode(b"another image").decode())
    results = client.embed(["before", PNG, "after", other], options=EmbeddingOptions(dimensions=32))
    assert [r.ok for r in results] == [True] * 4 and sim.stats()["requests"] == 1
    assert results[0].vector == pytest.approx(answers.embedding("before", 32))
    encoded = base64.b64encode(PNG.data or b"").decode()
    drawn_from = f"data:image/png;base64,{encoded}" if model == "embed-v4.0" else encoded
    assert results[1].vector == pytest.approx(answers.embedding(drawn_from, 32))
    assert results[3].vector != results[1].vector
    assert sum(r.usage.input_tokens for r in results) == client.tracker.input_tokens > 0


@pytest.mark.parametrize("model", ["text-embedding-3-small", "gemini-embedding-001", "mistral-embed"])
def test_an_image_to_a_model_that_embeds_no_images_is_an_error_on_its_own_result(sim: Simulator, model: str) -> None:
    results = client_on(sim, [model]).embed(["a", PNG, "b"])
    assert [r.ok for r in results] == [True, False, True]
    error = results[1].error
    assert isinstance(error, InputError) and f"{model} does not embed images" in str(error)
    assert sim.stats()["requests"] == 1


def test_an_image_that_cannot_go_inline_or_is_too_big_is_an_error_before_sending(sim: Simulator) -> None:
    too_big = Image(data=bytes(16_000_000))  # 21.3 MB in base64, over Cohere's 20 MB a request
    linked = Image(url="https://example.com/cat.png")
    results = client_on(sim, ["embed-v4.0"]).embed([linked, "a", too_big])
    assert [r.ok for r in results] == [False, True, False]
    assert "sent inline" in str(results[0].error) and "over the 20,000,000" in str(results[2].error)
    assert sim.stats()["requests"] == 1


def test_images_are_packed_up_to_the_bytes_a_request_takes(sim: Simulator) -> None:
    images = [Image(data=bytes([i]) * 6_000_000) for i in range(3)]  # 8 MB each in base64: two a request
    results = client_on(sim, ["embed-v4.0"]).embed([*images, "a caption"])
    assert all(r.ok for r in results)
    assert sim.stats()["requests"] == 2


def test_an_image_type_the_api_does_not_take_is_an_error_on_its_own_result(sim: Simulator) -> None:
    webp = Image(data=b"RIFF....WEBP", media_type="image/webp")
    cohere, gemini = client_on(sim, ["embed-v4.0"]).embed([webp]), client_on(sim, ["gemini-embedding-2"]).embed([webp])
    assert cohere[0].ok and sim.stats()["requests"] == 1
    assert "takes image/png, image/jpeg" in str(gemini[0].error)


def test_cohere_image_tokens_are_priced_at_their_own_rate(sim: Simulator) -> None:
    """embed-v4 bills an image's tokens apart from the text's (meta.billed_units.image_tokens)."""
    from cloudburst._sim.cohere import EMBED_IMAGE_TOKENS

    client = client_on(sim, ["embed-v4.0"])
    texts_only = client.embed(["a caption", "another"])
    text_cost = sum(r.cost for r in texts_only)
    text_tokens = sum(r.usage.input_tokens for r in texts_only)
    with_image = client.embed(["a caption", PNG, "another"])
    prices = get_model("embed-v4.0").prices
    assert prices.input is not None and prices.image_input is not None and prices.image_input > prices.input
    expected = text_cost + EMBED_IMAGE_TOKENS * prices.image_input / 1e6
    assert sum(r.cost for r in with_image) == pytest.approx(expected)
    assert sum(r.usage.input_tokens for r in with_image) == text_tokens + EMBED_IMAGE_TOKENS
    assert text_cost == pytest.approx(text_tokens * prices.input / 1e6)
