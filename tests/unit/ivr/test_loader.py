"""The loader's promise: every mistake is reported with file:line:col, the step, and a useful hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.ivr import FlowProblem
from gateway.ivr.loader import cross_check, parse_flow
from tests.unit.ivr.helpers import flow, problems_of

GOOD = """\
start: hello
steps:
  hello:
    type: say
    text: Hi
    next: bye
  bye:
    type: hangup
"""


def check_with_cross_checks(text: str) -> list[FlowProblem]:
    parsed = parse_flow(text.encode(), flow_id="f", path=Path("f.yaml"), base_dir=None)
    return parsed.problems + cross_check({"f": parsed}).get("f", [])


def only(problems: list[FlowProblem], severity: str = "error") -> FlowProblem:
    chosen = [problem for problem in problems if problem.severity == severity]
    assert len(chosen) == 1, [str(problem) for problem in problems]
    return chosen[0]


def test_a_good_flow_loads_with_a_content_version() -> None:
    loaded = flow(GOOD)
    assert loaded.flow.start == "hello"
    assert len(loaded.version) == 12
    assert loaded.step_lines == {"hello": 3, "bye": 7}
    assert flow(GOOD + "# a comment\n").version != loaded.version


def test_problem_prints_as_a_lint_line() -> None:
    problem = FlowProblem("ivr_flows/x.yaml", 3, 5, "menu", "unknown key 'timout'", "did you mean 'timeout'?")
    assert (
        str(problem)
        == "ivr_flows/x.yaml:3:5: error: step 'menu': unknown key 'timout' (did you mean 'timeout'?)"
    )


def test_unknown_key_points_at_the_key_with_a_suggestion() -> None:
    problem = only(problems_of(GOOD.replace("    next: bye", "    next: bye\n    voise: Polly.Amy")))
    assert (problem.file, problem.line, problem.col, problem.step) == ("f.yaml", 7, 5, "hello")
    assert problem.message == "unknown key 'voise'"
    assert problem.hint == "did you mean 'voice'?"


def test_misspelt_menu_branch_key_suggests_timeout() -> None:
    text = """\
    start: menu
    steps:
      menu:
        type: menu
        greeting: Press 1
        options:
          "1": bye
          time_out: bye
      bye:
        type: hangup
    """
    problem = only(problems_of(text))
    assert (problem.line, problem.col, problem.step) == (8, 7, "menu")
    assert "'time_out' is not a key" in problem.message
    assert problem.hint == "did you mean 'timeout'?"


def test_unknown_step_type_suggests_the_closest() -> None:
    problem = only(problems_of(GOOD.replace("type: say", "type: sya")))
    assert (problem.line, problem.col) == (4, 11)
    assert problem.message == "unknown step type 'sya'"
    assert problem.hint == "did you mean 'say'?"


def test_missing_required_key_names_it() -> None:
    problem = only(problems_of(GOOD.replace("    next: bye\n", "")))
    assert (problem.line, problem.step, problem.message) == (3, "hello", "missing required key 'next'")


def test_missing_start_step() -> None:
    problem = only(problems_of(GOOD.replace("start: hello", "start: helo")))
    assert (problem.line, problem.col, problem.step) == (1, 8, None)
    assert problem.message == "start step 'helo' does not exist"
    assert problem.hint == "did you mean 'hello'?"


def test_dangling_reference_to_a_step() -> None:
    problem = only(problems_of(GOOD.replace("next: bye", "next: by")))
    assert (problem.line, problem.col, problem.step) == (6, 11, "hello")
    assert problem.message == "'by' is not a step of this flow"
    assert problem.hint == "did you mean 'bye'?"


def test_unreachable_step_is_a_warning_so_half_built_flows_load() -> None:
    text = GOOD + "  lonely:\n    type: hangup\n"
    assert flow(text).flow.steps["lonely"] is not None
    problem = only(check_with_cross_checks(text), "warning")
    assert (problem.line, problem.col, problem.step) == (9, 3, "lonely")
    assert "never be reached" in problem.message


def test_unknown_template_variable_with_suggestion() -> None:
    text = GOOD.replace("start: hello", "start: hello\nvariables:\n  customer_name: friend").replace(
        "text: Hi", "text: Hi {{ customer_nmae }}"
    )
    problem = only(problems_of(text))
    assert (problem.line, problem.col, problem.step) == (7, 17, "hello"), "points at the variable's name"
    assert problem.message == "unknown variable 'customer_nmae'"
    assert problem.hint == "did you mean 'customer_name'?"


def test_unknown_variable_in_a_block_text_points_at_it() -> None:
    text = GOOD.replace("text: Hi", "text: |\n      Hello there,\n      dear {{ nobody }}!")
    problem = only(problems_of(text))
    assert (problem.line, problem.col) == (7, 15)


def test_variables_set_anywhere_in_the_flow_are_known() -> None:
    text = """\
    start: ask
    steps:
      ask:
        type: gather
        prompt: Your PIN?
        into: pin
        next: echo
      echo:
        type: say
        text: You said {{ pin }}, caller {{ caller }}
        next: bye
      bye:
        type: hangup
    """
    assert problems_of(text) == []


def test_unsafe_template_syntax_is_refused() -> None:
    problem = only(problems_of(GOOD.replace("text: Hi", "text: Hi {{ name | upper }}")))
    assert "only {{ name }} is allowed" in problem.message


def test_bad_and_untidy_phone_numbers() -> None:
    text = """\
    start: t
    steps:
      t:
        type: transfer
        number: "+44 20 7946 0123"
        caller_id: "+4412"
    """
    problems = problems_of(text)
    assert [(p.line, p.message) for p in problems] == [
        (5, "write the number as +442079460123"),
        (6, "'+4412' is not a valid phone number (TOO_SHORT)"),
    ]
    assert "E.164" in (problems[1].hint or "")


def test_unquoted_numbers_and_yes_no_stay_text() -> None:
    text = """\
    start: ask
    steps:
      ask:
        type: gather
        prompt: Yes or no?
        input: [speech]
        choices:
          yes: [yeah]
          no: [nope]
        into: answer
        next: call
      call:
        type: transfer
        number: +442079460123
    """
    loaded = flow(text)
    ask = loaded.flow.steps["ask"]
    assert list(ask.choices) == ["yes", "no"]  # type: ignore[union-attr]
    assert loaded.flow.steps["call"].number == "+442079460123"  # type: ignore[union-attr]


def test_hash_key_left_unquoted_gets_a_quoting_hint() -> None:
    text = GOOD.replace(
        "  bye:\n    type: hangup\n", "  bye:\n    type: record\n    finish_on_key: #\n    next: bye\n"
    )
    problem = only(problems_of(text))
    assert problem.line == 9
    assert problem.message == "expected text, got nothing"
    assert problem.hint == "'#' starts a comment in YAML: quote it, e.g. \"#\""


def test_wrong_type_shows_the_value() -> None:
    problem = only(problems_of(GOOD.replace("    type: hangup", "    type: hangup\n    reject: maybe")))
    assert problem.message == "unknown value 'maybe'"
    assert problem.hint == "choose one of: busy, rejected"


def test_yaml_syntax_error_has_a_position_and_hint() -> None:
    problem = only(problems_of("start: a\nsteps:\n  a:\n\ttype: say\n"))
    assert (problem.line, problem.col) == (4, 1)
    assert problem.message.startswith("YAML:")
    assert problem.hint == "indent with spaces, not tabs"


def test_an_unclosed_bracket_points_at_the_bracket_and_says_how_to_fix_it() -> None:
    problem = only(problems_of(GOOD.replace("text: Hi", "text: [Hi")))
    assert (problem.line, problem.col) == (5, 11)
    assert problem.message == "YAML: this '[' is never closed"
    assert problem.hint is not None
    assert "close the list with ']'" in problem.hint
    assert "quote the text" in problem.hint


def test_a_key_indented_too_far_is_named_with_the_key_above() -> None:
    problem = only(problems_of(GOOD.replace("    next: bye", "      next: bye")))
    assert (problem.line, problem.col) == (6, 7)
    assert problem.message == "YAML: 'next:' is indented further than 'text:' on the line above"
    assert problem.hint is not None
    assert "line 'next:' up with 'text:'" in problem.hint


def test_text_containing_a_colon_still_gets_the_quoting_hint() -> None:
    problem = only(problems_of(GOOD.replace("text: Hi", "text: Note: closed")))
    assert problem.hint == "text containing ': ' must be in quotes"


def test_duplicate_step_ids_are_reported() -> None:
    problem = only(problems_of(GOOD + "  bye:\n    type: hangup\n"))
    assert (problem.line, problem.col, problem.message) == (9, 3, "duplicate key 'bye'")


def test_several_mistakes_are_reported_in_one_pass() -> None:
    text = GOOD.replace("text: Hi", "text: Hi\n    volume: 11").replace(
        "type: hangup", "type: hangup\n    why: x"
    )
    problems = problems_of(text)
    assert [(p.step, p.message) for p in problems] == [
        ("hello", "unknown key 'volume'"),
        ("bye", "unknown key 'why'"),
    ]


def test_errors_inside_lists_and_nested_dicts_are_placed() -> None:
    text = """\
    start: b
    schedules:
      office:
        timezone: Europe/Londn
    steps:
      b:
        type: branch
        cases:
          - when: { business_hours: office }
            goto: bye
          - when: { variable: tier, equal: gold }
            goto: bye
        otherwise: bye
      bye:
        type: hangup
    """
    problems = problems_of(text)
    assert [(p.line, p.col, p.step) for p in problems] == [(3, 3, None), (11, 33, "b")]
    assert "unknown time zone 'Europe/Londn'" in problems[0].message
    assert problems[1].message == "unknown key 'equal'"
    assert problems[1].hint == "did you mean 'equals'?"


def test_http_host_cannot_come_from_a_variable() -> None:
    text = """\
    start: look
    variables: { host: example.com }
    steps:
      look:
        type: http
        url: https://{{ host }}/x
        next: bye
        on_error: bye
      bye:
        type: hangup
    """
    problem = only(problems_of(text))
    assert problem.message == "the host of the URL must be written out, not taken from a variable"


def test_unknown_schedule_in_condition() -> None:
    text = """\
    start: b
    steps:
      b:
        type: branch
        cases:
          - when: { holiday: office }
            goto: bye
        otherwise: bye
      bye:
        type: hangup
    """
    problem = only(problems_of(text))
    assert (problem.line, problem.message) == (6, "unknown schedule 'office'")


def test_builtin_variables_cannot_be_assigned() -> None:
    text = GOOD.replace("type: say\n    text: Hi", "type: set\n    variables: { caller: x }")
    problem = only(problems_of(text))
    assert problem.message == "'caller' is set by the call and cannot be changed"


@pytest.mark.parametrize("empty", ["", "# only a comment\n"])
def test_empty_file(empty: str) -> None:
    assert only(problems_of(empty)).message == "the file is empty"


def test_menu_without_a_way_out_warns_but_loads() -> None:
    text = """\
start: menu
steps:
  menu:
    type: menu
    greeting: Press 1
    options: { "1": bye }
  bye:
    type: hangup
"""
    parsed = parse_flow(text.encode(), flow_id="f", path=Path("f.yaml"), base_dir=None)
    assert parsed.flow is not None
    warning = only(parsed.problems, "warning")
    assert (warning.line, warning.message) == (6, "after 3 invalid entries the call ends without a word")


def test_a_bad_value_two_dicts_deep_is_placed_on_its_line() -> None:
    text = """\
    start: menu
    steps:
      menu:
        type: menu
        greeting: Press 1
        options:
          "1": bye
          timeout:
      bye:
        type: hangup
    """
    problem = only(problems_of(text))
    assert (problem.line, problem.col, problem.step) == (8, 15, "menu")
    assert problem.message == "expected text, got nothing"


def test_a_step_type_given_as_a_list_is_a_placed_problem_not_a_crash() -> None:
    problems = problems_of(GOOD.replace("type: say", "type: [say]"))
    assert any(problem.severity == "error" and problem.line == 4 for problem in problems), [
        str(problem) for problem in problems
    ]


def test_an_unknown_key_whose_place_cannot_be_found_ends_the_search_for_more_mistakes() -> None:
    from gateway.ivr.explain import skip_past
    from gateway.ivr.positions import SourceMap
    from gateway.ivr.problems import Issue

    data = {"start": "hello", "steps": {"hello": {"type": "say", "text": "Hi"}}}
    issue = Issue(("steps", "office", "timezone"), "unknown key 'timezone'", "did you mean 'timeout'?")
    assert skip_past(data, issue, SourceMap()) is None
