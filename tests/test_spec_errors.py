"""Each kind of spec mistake fails codegen with the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.errors import SpecError
from codegen.generate import render_all


def errors_for(specs: Path) -> SpecError:
    with pytest.raises(SpecError) as caught:
        render_all(specs)
    return caught.value


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def only_problem(error: SpecError) -> tuple[str, int, str]:
    assert len(error.problems) == 1, error
    problem = error.problems[0]
    return problem.file.as_posix(), problem.line, problem.message


def test_unknown_key_names_the_key_and_what_is_allowed(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "      text_as_string: true", "      text_as_strng: true")
    file, line, message = only_problem(errors_for(specs_copy))
    assert file == "specs/openai/mapping.yaml"
    assert line == line_of(mapping, "text_as_strng")
    assert "unknown key 'text_as_strng'" in message
    assert "text_as_string" in message  # the expected keys are listed


def test_wrong_type_says_what_was_expected(specs_copy: Path) -> None:
    provider = specs_copy / "openai" / "provider.yaml"
    replace_in(provider, "{status: 401, kind: auth}", "{status: unauthorised, kind: auth}")
    file, line, message = only_problem(errors_for(specs_copy))
    assert file == "specs/openai/provider.yaml"
    assert line == line_of(provider, "unauthorised")
    assert message == "errors.5.status: expected an integer or a list (got 'unauthorised')"


def test_wrong_value_in_a_closed_vocabulary(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "        length: length\n", "        length: truncated\n")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "length: truncated"))
    assert "'stop', 'length', 'tool_calls', 'content_filter' or 'refusal'" in message


def test_missing_required_key(specs_copy: Path) -> None:
    provider = specs_copy / "openai" / "provider.yaml"
    replace_in(provider, "title: OpenAI\n", "")
    file, line, message = only_problem(errors_for(specs_copy))
    assert file == "specs/openai/provider.yaml"
    assert line == line_of(provider, "name: openai")  # the mapping that lacks it
    assert "missing required key 'title'" in message


def test_dangling_ref(specs_copy: Path) -> None:
    response = specs_copy / "openai" / "response.yaml"
    replace_in(response, "$ref: '#/schemas/CompletionUsage'", "$ref: '#/schemas/CompletionUsag'")
    problems = errors_for(specs_copy).problems
    dangling = [p for p in problems if "dangling" in p.message]
    assert [(p.file.as_posix(), p.line, p.message) for p in dangling] == [
        (
            "specs/openai/response.yaml",
            line_of(response, "CompletionUsag'"),
            "dangling $ref '#/schemas/CompletionUsag': no schema named 'CompletionUsag' in this provider folder",
        )
    ]
    # everything that led through the broken reference is reported in the same run
    others = {p.message for p in problems} - {dangling[0].message}
    assert others and all("is not a field of the response schema" in m and "usage." in m for m in others)


def test_option_names_must_be_python_identifiers(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "      prompt_cache_key:\n", "      prompt-cache-key:\n")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "prompt-cache-key"))
    assert "apis.chat.options.prompt-cache-key" in message and "pattern" in message


def test_duplicate_schema_name_across_files(specs_copy: Path) -> None:
    response = specs_copy / "openai" / "response.yaml"
    response.write_text(response.read_text() + "  ServiceTier:\n    type: string\n")
    file, line, message = only_problem(errors_for(specs_copy))
    assert file == "specs/openai/response.yaml"
    assert line == len(response.read_text().splitlines()) - 1
    assert "duplicate schema name 'ServiceTier'" in message
    assert "specs/openai/request.yaml:" in message  # where the first one is


def test_duplicate_yaml_key(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "      top_p: top_p\n", "      top_p: top_p\n      top_p: top_p\n")
    file, line, message = only_problem(errors_for(specs_copy))
    assert file == "specs/openai/mapping.yaml"
    assert line == line_of(mapping, "top_p: top_p") + 1
    assert f"duplicate key 'top_p' (first defined on line {line - 1})" in message


def test_duplicate_model_name_in_registry(specs_copy: Path) -> None:
    models = specs_copy / "models.yaml"
    replace_in(models, "aliases: [gpt-4o-mini-2024-07-18]", "aliases: [gpt-4o-mini-2024-07-18, gpt-4o]")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/models.yaml", line_of(models, "gpt-4o-mini-2024-07-18, gpt-4o]"))
    assert "duplicate model name 'gpt-4o'" in message


def test_yaml_syntax_error(specs_copy: Path) -> None:
    provider = specs_copy / "openai" / "provider.yaml"
    replace_in(provider, "base_url_env: OPENAI_BASE_URL", "base_url_env: [OPENAI_BASE_URL")
    file, line, message = only_problem(errors_for(specs_copy))
    assert file == "specs/openai/provider.yaml"
    assert line == line_of(provider, "base_url_env") + 1  # where the parser gave up
    assert message.startswith("YAML syntax error")


def test_mapping_to_a_field_the_request_schema_lacks(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "max_new_tokens: max_completion_tokens", "max_new_tokens: max_output_tokens")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "max_output_tokens"))
    assert "'max_output_tokens' is not a field of the request schema 'CreateChatCompletionRequest'" in message


def test_mapping_to_a_field_the_response_schema_lacks(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "text: choices.0.message.content", "text: choices.0.message.text")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "choices.0.message.text"))
    assert "is not a field of the response schema" in message


def test_unknown_template_variable(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, 'image_url: {url: $url, "detail?": $detail}}', 'image_url: {url: $uri, "detail?": $detail}}')
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "$uri"))
    assert "unknown template variable $uri (expected one of: $detail, $detail_or_auto, $media_type, $url)" in message


def test_an_embeddings_image_entry_names_its_variables_and_a_field_the_schema_has(specs_copy: Path) -> None:
    mapping = specs_copy / "cohere" / "mapping.yaml"
    replace_in(mapping, "image_url: {url: $data_url}", "image_url: {url: $url}")
    replace_in(mapping, "      field: inputs", "      field: input")
    problems = {(p.line, p.message) for p in errors_for(specs_copy).problems}
    assert problems == {
        (
            line_of(mapping, "image: {content:"),
            "unknown template variable $url (expected one of: $data, $data_url, $media_type, $model)",
        ),
        (line_of(mapping, "field: input"), "'input' is not a field of the request schema 'EmbedRequestV2'"),
    }


def test_unknown_spec_file_and_all_problems_reported_together(specs_copy: Path) -> None:
    (specs_copy / "openai" / "requests.yaml").write_text("schemas: {}\n")
    replace_in(
        specs_copy / "models.yaml",
        "context_window: 1047576",
        "context_window: -5",
    )
    error = errors_for(specs_copy)
    messages = [str(problem) for problem in error.problems]
    assert any("specs/openai/requests.yaml:1: unknown spec file 'requests.yaml'" in m for m in messages)
    assert any(m.startswith("specs/models.yaml:") and "greater than 0" in m for m in messages)


def test_nothing_is_written_when_a_spec_is_wrong(specs_copy: Path, tmp_path: Path) -> None:
    from codegen.generate import generate

    replace_in(specs_copy / "openai" / "mapping.yaml", "kind: chat", "kind: chatt")
    out = tmp_path / "out"
    with pytest.raises(SpecError):
        generate(specs_copy, out)
    assert not out.exists()


def test_registry_provider_must_have_a_spec_folder_or_be_planned(specs_copy: Path) -> None:
    models = specs_copy / "models.yaml"
    replace_in(models, "    provider: openai\n", "    provider: opneai\n")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/models.yaml", line_of(models, "provider: opneai"))
    assert message.startswith("unknown provider 'opneai' (expected a folder under specs/: anthropic, bedrock")


def test_problems_in_different_files_of_a_folder_are_reported_together(specs_copy: Path) -> None:
    replace_in(specs_copy / "openai" / "provider.yaml", "title: OpenAI", "titel: OpenAI")
    replace_in(
        specs_copy / "openai" / "mapping.yaml", "max_new_tokens: max_completion_tokens", "max_new_tokens: max_tokns"
    )
    files = sorted(p.file.name for p in errors_for(specs_copy).problems)
    assert files == ["mapping.yaml", "provider.yaml", "provider.yaml"]  # unknown 'titel', missing 'title', bad path


def test_a_wildcard_path_is_checked_through_every_list(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "refusal: output.*.content.*.refusal", "refusal: output.*.content.*.refusl")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "refusl"))
    assert message == "'output.*.content.*.refusl' is not a field of the response schema 'Response'"


def test_role_templates_need_a_known_role(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(
        mapping,
        "        assistant:\n          text: {type: output_text",
        "        robot:\n          text: {type: output_text",
    )
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "robot:"))
    assert "'system', 'user', 'assistant' or 'tool' (got 'robot')" in message


def test_an_item_part_needs_a_template(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(
        mapping, "      items: [thinking, tool_call, tool_result]", "      items: [thinking, tool_call, document_url]"
    )
    replace_in(mapping, "        document_url: {type: input_file, file_url: $url}\n", "")
    problems = {(p.line, p.message) for p in errors_for(specs_copy).problems}
    assert (line_of(mapping, "items: [thinking"), "'document_url' has no template under messages.parts") in problems
    # tool_result, no longer an item, is now checked as a content part, which it is not
    assert any(
        line == line_of(mapping, "tool_result: {type: function_call_output")
        and message.startswith("'function_call_output' is not one of the schema's values: 'input_text'")
        for line, message in problems
    )


def test_a_strict_flag_outside_the_tool_schema_names_its_line(specs_copy: Path) -> None:
    mapping = specs_copy / "anthropic" / "mapping.yaml"
    replace_in(mapping, "        path: strict\n", "        path: strictly\n")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/anthropic/mapping.yaml", line_of(mapping, "path: strictly"))
    assert message == "'strictly' is not a field of one tool in 'MessageCreateParams'"


def test_a_part_sent_only_with_a_variable_it_lacks(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "only_with: {thinking: [id]}", "only_with: {thinking: [item_id]}")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "only_with:"))
    assert message == "thinking parts have no variable $item_id (expected one of: $id, $signature, $summary, $thinking)"


def test_an_option_adds_only_to_request_fields(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "append: {include: reasoning", "append: {includes: reasoning")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "append: {includes"))
    assert message == "'includes' is not a field of the request schema 'CreateResponse'"


def test_a_stream_format_outside_the_vocabulary_names_the_formats(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "      format: openai_chat", "      format: openai_chunks")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "openai_chunks"))
    assert "'openai_chat'" in message and "'bedrock_converse'" in message


def test_a_stream_body_field_the_request_lacks(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "body: {stream: true, stream_options:", "body: {streaming: true, stream_options:")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "streaming: true"))
    assert message.endswith("'streaming' is not a field of the request schema 'CreateChatCompletionRequest'")


def test_a_stream_framing_outside_the_vocabulary(specs_copy: Path) -> None:
    mapping = specs_copy / "mistral" / "mapping.yaml"
    replace_in(mapping, "      body: {stream: true}", "      framing: websocket\n      body: {stream: true}")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/mistral/mapping.yaml", line_of(mapping, "websocket"))
    assert "'sse' or 'aws_eventstream'" in message


def test_a_part_template_that_is_not_a_part_names_what_the_schema_takes(specs_copy: Path) -> None:
    mapping = specs_copy / "gemini" / "mapping.yaml"
    replace_in(mapping, "        text: {text: $text}\n", "        text: -1\n")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/gemini/mapping.yaml", line_of(mapping, "text: -1"))
    assert message == "expected a mapping (got -1), for contents.0.parts.0 in 'GenerateContentRequest'"


def test_a_template_word_outside_the_schema_values(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "value: {type: json_object}", "value: {type: json_objet}")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "json_objet"))
    assert message.startswith("'json_objet' is not one of the schema's values: 'text', 'json_schema', 'json_object'")


def test_a_template_field_the_schema_lacks(specs_copy: Path) -> None:
    mapping = specs_copy / "gemini" / "mapping.yaml"
    replace_in(mapping, "shape: {name: $name,", "shape: {nam: $name,")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/gemini/mapping.yaml", line_of(mapping, "shape: {nam:"))
    assert message.startswith("'nam' is not a field there (expected one of: description, name,")
    assert message.endswith("for tools.0.functionDeclarations.0 in 'GenerateContentRequest'")


def test_a_matched_block_kind_of_the_wrong_type(specs_copy: Path) -> None:
    mapping = specs_copy / "anthropic" / "mapping.yaml"
    replace_in(mapping, "text: {when: {type: text}", "text: {when: {type: 1}")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/anthropic/mapping.yaml", line_of(mapping, "when: {type: 1}"))
    assert message == "expected a string (got 1), for type of the blocks in 'Message'"


def test_a_number_is_never_true(specs_copy: Path) -> None:
    provider = specs_copy / "openai" / "provider.yaml"
    replace_in(provider, "token_ratio: [0.75, 1.1]", "token_ratio: [true, 1.1]")
    assert only_problem(errors_for(specs_copy)) == (
        "specs/openai/provider.yaml",
        line_of(provider, "token_ratio"),
        "token_ratio.0: expected a number (got True)",
    )


def test_a_strict_mode_keyword_must_be_json_schema_s(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "unsupported: [allOf, not,", "unsupported: [allOff, not,")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "allOff"))
    assert "(got 'allOff')" in message


def test_a_model_s_api_must_be_one_its_provider_has(specs_copy: Path) -> None:
    models = specs_copy / "models.yaml"
    replace_in(
        models,
        "  gemini-3.8-flash:\n    provider: gemini\n    api: generate",
        "  gemini-3.8-flash:\n    provider: gemini\n    api: messages",
    )
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/models.yaml", line_of(models, "  gemini-3.8-flash:") + 2)
    assert message == "gemini has no API 'messages' (expected one of: embeddings, generate)"


def test_an_embeddings_setting_maps_only_unified_values(specs_copy: Path) -> None:
    mapping = specs_copy / "cohere" / "mapping.yaml"
    text = mapping.read_text()
    assert "query: search_query" in text
    mapping.write_text(text.replace("query: search_query", "question: search_query", 1))
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/cohere/mapping.yaml", line_of(mapping, "question: search_query"))
    assert (
        message
        == "'question' is not a value of input_kind (expected one of: query, document, classification, clustering)"
    )


def test_a_setting_sent_where_the_schema_takes_another_type(specs_copy: Path) -> None:
    mapping = specs_copy / "openai" / "mapping.yaml"
    replace_in(mapping, "max_new_tokens: max_completion_tokens", "max_new_tokens: tools")
    file, line, message = only_problem(errors_for(specs_copy))
    assert (file, line) == ("specs/openai/mapping.yaml", line_of(mapping, "max_new_tokens: tools"))
    assert message == "max_new_tokens is an integer, which tools in 'CreateChatCompletionRequest' does not take"
