"""`trunkline flows ...` through `gateway.ivr.cli.main`, on real files."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.ivr.cli import main
from tests.unit.ivr.helpers import SAMPLE_FLOWS


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE_FLOWS, tmp_path / "flows")
    return tmp_path / "flows"


def run(*argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), stdin=io.StringIO(stdin), stdout=out)
    return code, out.getvalue()


def test_lint_passes_on_the_sample_flows(flows_dir: Path) -> None:
    assert run("--flows-dir", str(flows_dir), "lint") == (0, "3 flow file(s): 0 error(s), 0 warning(s)\n")


SECRET_LOOKUP = """\
start: lookup
steps:
  lookup:
    type: http
    url: https://crm.example.com/api/customer
    headers:
      Authorization: "Bearer {{ secret.crm_tokn }}"
    next: bye
    on_error: bye
  bye:
    type: hangup
"""


def test_lint_reports_an_unknown_secret_with_file_line_and_column(flows_dir: Path) -> None:
    project = flows_dir / "projects" / "prj_acme"
    project.mkdir(parents=True)
    (project / "lookup.yaml").write_text(SECRET_LOOKUP)
    code, out = run("--flows-dir", str(flows_dir), "lint", "--secrets", "crm_token,erp_key")
    assert code == 1
    column = SECRET_LOOKUP.splitlines()[6].index("secret.crm_tokn") + 1
    assert out.splitlines()[0] == (
        f"{project / 'lookup.yaml'}:7:{column}: error: step 'lookup': unknown secret 'crm_tokn' "
        "(did you mean 'crm_token'?)"
    )
    assert out.splitlines()[-1] == "4 flow file(s): 1 error(s), 0 warning(s)", "the project's directory too"
    code, out = run("--flows-dir", str(flows_dir), "lint", "--secrets", "crm_tokn")
    assert code == 0, out


def test_lint_reports_each_problem_as_a_line_and_fails(flows_dir: Path) -> None:
    bad = flows_dir / "bad.yaml"
    bad.write_text(
        "start: a\nsteps:\n  a:\n    type: menu\n    greeting: Hi\n    timout: 3\n    options: {'1': a}\n"
    )
    code, out = run("lint", str(bad))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{bad}:6:5: error: step 'a': unknown key 'timout' (did you mean 'timeout'?)"
    assert lines[-1] == "1 flow file(s): 1 error(s), 0 warning(s)"


def test_lint_strict_fails_on_warnings(flows_dir: Path) -> None:
    (flows_dir / "warn.yaml").write_text(
        "start: m\nsteps:\n  m: { type: menu, greeting: Hi, options: { '1': b } }\n  b: { type: hangup }\n"
    )
    assert run("lint", str(flows_dir))[0] == 0
    code, out = run("lint", "--strict", str(flows_dir / "warn.yaml"))
    assert code == 1
    assert "warning: step 'm': after 3 invalid entries" in out


def test_lint_warns_about_unreachable_steps_and_fails_on_them_only_when_strict(flows_dir: Path) -> None:
    draft = flows_dir / "draft.yaml"
    draft.write_text("start: a\nsteps:\n  a: { type: hangup }\n  later: { type: hangup }\n")
    code, out = run("lint", str(draft))
    assert code == 0
    assert f"{draft}:4:3: warning: step 'later': step 'later' can never be reached" in out
    assert run("lint", "--strict", str(draft))[0] == 1


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_through_the_trunkline_command(flag: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "flows", flag], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("usage: trunkline flows")
    assert "simulate" in done.stdout


def test_lint_output_is_the_report_alone(flows_dir: Path) -> None:
    (flows_dir / "broken.yaml").write_text("start: nope\nsteps: {}\n")
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "flows", "--flows-dir", str(flows_dir), "lint"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (1, ""), "no log lines after the report"
    assert done.stdout.endswith("4 flow file(s): 1 error(s), 0 warning(s)\n")


def test_lint_uses_the_flows_dir_from_the_environment(
    flows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUNKLINE_FLOWS_DIR", str(flows_dir))
    (flows_dir / "x.yaml").write_text("start: nope\nsteps: {}\n")
    code, out = run("lint")
    assert code == 1
    assert "x.yaml:1:8: error: start step 'nope' does not exist" in out


def test_flow_tests_run_and_failures_point_at_the_test(flows_dir: Path) -> None:
    code, out = run("--flows-dir", str(flows_dir), "test")
    assert (code, out.splitlines()[-1]) == (0, "20 flow test(s): 20 passed, 0 failed")
    extra = flows_dir / "tests" / "extra.yaml"
    extra.write_text("flow: voicemail\ntests:\n  - name: wrong\n    script:\n      - hear: something else\n")
    code, out = run("--flows-dir", str(flows_dir), "test", str(extra))
    assert code == 1
    assert out.splitlines()[0].startswith(
        f"{extra}:3: FAIL: wrong: script line 1: expected to hear 'something else'"
    )


def test_broken_test_files_are_reported_with_positions(flows_dir: Path) -> None:
    extra = flows_dir / "tests" / "extra.yaml"
    extra.write_text("flow: voicemail\ntests:\n  - name: typo\n    scirpt: []\n")
    code, out = run("--flows-dir", str(flows_dir), "test", str(extra))
    assert code == 1
    assert f"{extra}:4:5: error: unknown key 'scirpt' (did you mean 'script'?)" in out


def test_graph_in_both_formats(flows_dir: Path) -> None:
    code, mermaid = run("--flows-dir", str(flows_dir), "graph", "voicemail")
    assert code == 0
    assert mermaid.startswith("flowchart TD\n")
    assert '    record_message -.->|"recorded"| check_message' in mermaid
    code, dot = run("--flows-dir", str(flows_dir), "graph", "voicemail", "--format", "dot")
    assert dot.startswith('digraph "voicemail" {')
    assert '"check_message" -> "thanks"' in dot


def test_graph_has_a_legend_counts_in_words_and_numbers_on_transfers(flows_dir: Path) -> None:
    (flows_dir / "small.yaml").write_text(
        "start: check\nsteps:\n"
        "  check:\n    type: branch\n    cases:\n"
        "      - when: { caller_in: ['+447911123456'] }\n        goto: desk\n"
        "    otherwise: desk\n"
        "  desk: { type: transfer, number: '+442079460123' }\n"
    )
    mermaid = run("--flows-dir", str(flows_dir), "graph", "small")[1]
    assert 'check(["check: branch (1 case)"])' in mermaid
    assert '-.->|"caller in 1 number"| desk' in mermaid
    assert 'desk["desk: transfer to number +442079460123"]' in mermaid
    assert '    subgraph legend-key["Legend"]' in mermaid
    assert '-->|"the caller chose"|' in mermaid
    dot = run("--flows-dir", str(flows_dir), "graph", "small", "--format", "dot")[1]
    assert "subgraph cluster_legend {" in dot
    assert "transfer to number +442079460123" in dot


def test_graph_of_a_broken_flow_explains(flows_dir: Path) -> None:
    (flows_dir / "voicemail.yaml").write_text("start: x\nsteps: {}\n")
    code, out = run("--flows-dir", str(flows_dir), "graph", "voicemail")
    assert code == 1
    assert "start step 'x' does not exist" in out
    assert "flow 'voicemail' is not loaded" in out


def test_simulate_a_call_from_the_terminal(flows_dir: Path) -> None:
    script = "7\n/silence\n1\nbusy\n/vars\nbusy\n12\n"
    code, out = run(
        "--flows-dir",
        str(flows_dir),
        "simulate",
        "main_menu",
        "--at",
        "2025-03-04T10:00:00+00:00",
        stdin=script,
    )
    assert code == 0
    assert "  >> Sorry, that is not one of the options." in out
    assert "  >> Sorry, I did not hear a choice." in out
    assert "  (transfer to agent sales-assistant)" in out
    assert "  (transfer to number +442079460123)" in out
    assert "  choice = '1'" in out
    assert "  >> Thank you, your message has been saved." in out
    assert out.rstrip().endswith("Call ended: hangup: completed")


def test_simulate_offline_lookups_fail_over(flows_dir: Path) -> None:
    code, out = run(
        "--flows-dir", str(flows_dir), "simulate", "support", "--offline", stdin="12345678\n/quit\n"
    )
    assert code == 0
    assert "(HTTP GET https://crm.example.com/api/accounts/12345678 -> offline)" in out
    assert "  >> Sorry, I could not find that account." in out
    assert out.rstrip().endswith("Stopped.")


def test_simulate_answers_lookups_with_the_flow_tests_canned_replies(flows_dir: Path) -> None:
    code, out = run(
        "--flows-dir", str(flows_dir), "simulate", "support", "--canned", stdin="12345678\n/quit\n"
    )
    assert code == 0
    assert "(HTTP GET https://crm.example.com/api/accounts/12345678 -> status 200)" in out
    assert "Ada" in out
    code, out = run(
        "--flows-dir", str(flows_dir), "simulate", "support", "--canned", stdin="99999999\n/quit\n"
    )
    assert "(HTTP GET https://crm.example.com/api/accounts/99999999 -> status 404)" in out


def test_simulated_numbers_default_to_the_region(flows_dir: Path) -> None:
    out = io.StringIO()
    main(
        ["--flows-dir", str(flows_dir), "simulate", "voicemail"],
        stdin=io.StringIO(""),
        stdout=out,
        default_region=lambda: "AU",
    )
    assert "as +614" in out.getvalue()
    assert "as +1" in run("--flows-dir", str(flows_dir), "simulate", "voicemail")[1], "US without a project"
    assert "as +33" in run("--flows-dir", str(flows_dir), "simulate", "voicemail", "--region", "fr")[1]


def test_the_trunkline_command_simulates_in_the_default_projects_region(
    flows_dir: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db"}
    subprocess.run(
        [sys.executable, "-m", "gateway", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    with sqlite3.connect(tmp_path / "t.db") as db:
        db.execute("UPDATE projects SET default_region = 'NZ' WHERE slug = 'default'")
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "flows", "--flows-dir", str(flows_dir), "simulate", "voicemail"],
        env=env,
        input="",
        capture_output=True,
        text=True,
        check=True,
    )
    assert "as +642" in done.stdout


def test_schema_check_and_write(flows_dir: Path) -> None:
    assert run("--flows-dir", str(flows_dir), "schema", "--check") == (0, "")
    (flows_dir / "schema.json").write_text("{}")
    code, out = run("--flows-dir", str(flows_dir), "schema", "--check")
    assert code == 1
    assert "schema.json is out of date" in out
    assert run("--flows-dir", str(flows_dir), "schema")[0] == 0
    assert (flows_dir / "schema.json").read_text() == (SAMPLE_FLOWS / "schema.json").read_text()
