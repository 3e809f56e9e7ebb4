"""Strict tool schemas: sent strict where the API and model have a strict mode and the schema
allows it, non-strict otherwise; `strict=True` that cannot be honoured is refused before sending;
the simulator refuses strict schemas the real APIs refuse."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest
from pydantic import BaseModel, Field

import cloudburst
from cloudburst import LLMClient, RequestOptions, SamplingParams, Simulator, Tool
from tests.official_types import problems
from tests.tools_fixtures import LookupOrder, get_current_weather


def search_flights(origin: str, destination: str, passengers: int = 1, cabin: str | None = None) -> str:
    """Find flights between two airports."""
    return f"{passengers} {cabin or 'economy'} {origin}-{destination}"


# A raw schema with an optional property and no default: required-everywhere strict modes
# cannot take it without changing what the tool means.
NOTE = Tool(
    "add_note",
    "Save a note.",
    {"type": "object", "properties": {"text": {"type": "string"}, "tag": {"type": "string"}}, "required": ["text"]},
)


class Airport(BaseModel):
    code: str


class Trip(BaseModel):
    """Plan a trip."""

    origin: Airport = Field(description="Where from")  # pydantic: a $ref with a description beside it
    stops: list[Airport] = []


class Booking(BaseModel):
    """Book seats."""

    seats: int = Field(ge=1, le=9)


def tools_of(model: str, *tools: Any, **options: Any) -> list[dict[str, Any]]:
    body = cloudburst.render(model, "Fly me to Oslo.", options=RequestOptions(tools=list(tools), **options)).body
    return list(body["tools"])


def test_openai_chat_tools_go_strict_with_every_property_required() -> None:
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

    function = tools_of("gpt-4.1-mini", search_flights)[0]["function"]
    assert function["strict"] is True
    assert function["parameters"]["required"] == ["origin", "destination", "passengers", "cabin"]
    assert function["parameters"]["additionalProperties"] is False
    # the model now always sends them, so their defaults no longer apply
    assert "default" not in function["parameters"]["properties"]["passengers"]
    body = cloudburst.render("gpt-4.1-mini", "Fly", options=RequestOptions(tools=[search_flights])).body
    assert problems(body, CompletionCreateParamsNonStreaming) == []


def test_openai_strict_inlines_a_ref_that_has_keywords_beside_it() -> None:
    parameters = tools_of("gpt-4.1-mini", Trip)[0]["function"]["parameters"]
    assert parameters["properties"]["origin"] == {
        "description": "Where from",
        "properties": {"code": {"title": "Code", "type": "string"}},
        "required": ["code"],
        "title": "Airport",
        "type": "object",
        "additionalProperties": False,
    }
    assert parameters["properties"]["stops"]["items"] == {"$ref": "#/$defs/Airport"}  # a bare $ref stays
    assert parameters["$defs"]["Airport"]["additionalProperties"] is False
    # Anthropic takes a $ref with a description as it is
    assert tools_of("claude-haiku-4-5", Trip)[0]["input_schema"]["properties"]["origin"]["$ref"] == "#/$defs/Airport"


def test_a_schema_that_cannot_be_strict_is_sent_as_given_by_default() -> None:
    function = tools_of("gpt-4.1-mini", NOTE)[0]["function"]
    assert "strict" not in function and function["parameters"] == NOTE.parameters
    responses = tools_of("gpt-4.1-mini@responses", NOTE)[0]
    assert responses["strict"] is False and responses["parameters"] == NOTE.parameters


def test_strict_true_on_a_schema_that_cannot_be_strict_is_refused_before_sending() -> None:
    note = Tool(NOTE.name, NOTE.description, NOTE.parameters, strict=True)
    with pytest.raises(cloudburst.ConfigurationError, match=r"'add_note' cannot be strict on gpt-4.1-mini: .*'tag'"):
        tools_of("gpt-4.1-mini", note)
    # a client refuses it when it is built, before any request
    with pytest.raises(cloudburst.ConfigurationError, match="add_note"):
        LLMClient(["gpt-4.1-mini"], options=RequestOptions(tools=[note]), progress=None, api_keys={"openai": "sk"})
    booking = Tool.from_model(Booking, strict=True)
    with pytest.raises(cloudburst.ConfigurationError, match=r"seats uses 'maximum', which strict mode does not take"):
        tools_of("claude-haiku-4-5", booking)
    free_form = Tool("tag", "Tag it.", {"type": "object", "properties": {"labels": {"type": "object"}}}, strict=True)
    with pytest.raises(cloudburst.ConfigurationError, match="labels allows additional properties"):
        tools_of("claude-haiku-4-5", free_form)


def test_strict_false_opts_out() -> None:
    tool = Tool.from_function(search_flights, strict=False)
    assert "strict" not in tools_of("gpt-4.1-mini", tool)[0]["function"]
    assert tools_of("gpt-4.1-mini@responses", tool)[0]["strict"] is False
    assert "strict" not in tools_of("claude-haiku-4-5", tool)[0]


def test_anthropic_strict_closes_objects_and_keeps_optional_properties_optional() -> None:
    from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

    tool = tools_of("claude-haiku-4-5", search_flights)[0]
    assert tool["strict"] is True
    assert tool["input_schema"]["required"] == ["origin", "destination"]
    assert tool["input_schema"]["additionalProperties"] is False
    # numeric bounds are outside Anthropic's strict subset: sent non-strict, as given
    booking = tools_of("claude-haiku-4-5", Booking)[0]
    assert "strict" not in booking and booking["input_schema"]["properties"]["seats"]["minimum"] == 1
    body = cloudburst.render("claude-haiku-4-5", "Fly", options=RequestOptions(tools=[search_flights, Booking])).body
    assert problems(body, MessageCreateParamsNonStreaming) == []


def test_a_model_without_structured_output_gets_no_strict_tools() -> None:
    assert "strict" not in tools_of("bedrock-claude-haiku-4-5", search_flights)[0]
    with pytest.raises(cloudburst.UnsupportedOptionError, match="bedrock-claude-haiku-4-5 has no structured_output"):
        tools_of("bedrock-claude-haiku-4-5", Tool.from_function(search_flights, strict=True))


def test_an_api_without_strict_tools_refuses_strict_true() -> None:
    declarations = cloudburst.render("gemini-2.5-flash", "Fly", options=RequestOptions(tools=[search_flights])).body
    assert "strict" not in declarations["tools"][0]["functionDeclarations"][0]
    strict = RequestOptions(tools=[Tool.from_function(search_flights, strict=True)])
    with pytest.raises(cloudburst.UnsupportedOptionError, match=r"gemini-2\.5-flash's API has no strict tools"):
        cloudburst.render("gemini-2.5-flash", "Fly", options=strict)


def converse_model() -> cloudburst.ModelInfo:
    # no Bedrock model in the registry lists structured output yet: one registered for the tests
    return cloudburst.register_model(
        "test-strict-converse",
        provider="bedrock",
        api="converse",
        name="us.anthropic.claude-haiku-4-5-20251001-v1:0",
        context_window=200_000,
        capabilities=("tools", "structured_output"),
        replace=True,
    )


def test_converse_sends_strict_on_the_tool_spec() -> None:
    from tests.test_bedrock import check_converse

    converse_model()
    body = cloudburst.render("test-strict-converse", "Fly", options=RequestOptions(tools=[search_flights])).body
    spec = body["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["strict"] is True and spec["inputSchema"]["json"]["additionalProperties"] is False
    check_converse(body)  # botocore's service model takes ToolSpecification.strict


@pytest.mark.parametrize(
    "model", ["gpt-4.1-mini", "gpt-4.1-mini@responses", "claude-haiku-4-5", "test-strict-converse"]
)
def test_strict_tool_calls_round_trip_through_the_simulator(sim_env: Simulator, model: str) -> None:
    converse_model()
    tools = [search_flights, Trip, LookupOrder, get_current_weather]
    sampling = SamplingParams(max_new_tokens=256)
    for choice, fits in (
        ("search_flights", lambda arguments: search_flights(**arguments)),
        ("Trip", Trip.model_validate),
    ):
        client = LLMClient(
            [model], sampling=sampling, options=RequestOptions(tools=tools, tool_choice=choice), progress=None, seed=3
        )
        results = client.run(["Fly me from OSL to LHR."] * 3)
        assert all(r.ok for r in results), [str(r.error) for r in results]
        for response in results:
            (call,) = response.tool_calls
            assert call.name == choice and call.arguments is not None
            assert fits(call.arguments)  # the arguments fit the tool


def test_the_simulator_refuses_strict_functions_openai_would_refuse(sim: Simulator) -> None:
    client = openai.OpenAI(base_url=sim.base_urls()["openai"], api_key="sk-test", max_retries=0)
    loose = {"name": "add_note", "parameters": NOTE.parameters, "strict": True}
    with pytest.raises(openai.BadRequestError) as chat:
        client.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "user", "content": "Note this."}],
            tools=[{"type": "function", "function": loose}],
        )
    error = chat.value.body
    assert isinstance(error, dict) and error["code"] == "invalid_function_parameters"
    assert error["param"] == "tools[0].function.parameters"
    assert error["message"].startswith("Invalid schema for function 'add_note': In context=(), 'additionalProperties'")
    closed = {**loose, "parameters": {**NOTE.parameters, "additionalProperties": False}}
    with pytest.raises(openai.BadRequestError, match="Missing 'tag'"):
        client.responses.create(model="gpt-4.1-mini", input="Note this.", tools=[{"type": "function", **closed}])
    closed_trip = {**tools_of("claude-haiku-4-5", Trip)[0]["input_schema"], "required": ["origin", "stops"]}
    described = {"type": "function", "name": "trip", "strict": True, "parameters": closed_trip}
    with pytest.raises(
        openai.BadRequestError, match=r"\('properties', 'origin'\), \$ref cannot have keywords \{'description'\}"
    ):
        client.responses.create(model="gpt-4.1-mini", input="Plan.", tools=[described])  # type: ignore[list-item]
    # a chat function is strict only when it says so
    plain = client.chat.completions.create(
        model="gpt-4.1-mini",
        messages=[{"role": "user", "content": "Note this."}],
        tools=[{"type": "function", "function": {**loose, "strict": False}}],
    )
    assert plain.choices[0].finish_reason in ("stop", "tool_calls", "length")


def test_the_simulator_refuses_open_objects_in_anthropic_and_converse_strict_tools(sim: Simulator) -> None:
    client = anthropic.Anthropic(base_url=sim.url, api_key="sk-ant-test", max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="'additionalProperties' must be explicitly set to false"):
        client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "Note this."}],
            tools=[{"name": "add_note", "input_schema": NOTE.parameters, "strict": True}],
        )
    tool = {"toolSpec": {"name": "add_note", "inputSchema": {"json": NOTE.parameters}, "strict": True}}
    answer = httpx.post(
        f"{sim.url}/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/converse",
        json={"messages": [{"role": "user", "content": [{"text": "Note this."}]}], "toolConfig": {"tools": [tool]}},
        headers={"Authorization": "Bearer ABSK-test"},
    )
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"].startswith("ValidationException")
    assert "strict mode" in answer.json()["message"]
