import re

from tests.harness.processes import run_module


def test_the_agent_step_times_every_reading_enriched_and_prints_what_the_agent_adds():
    run = run_module("bench.agent_step", "--n", "2000")
    assert run.returncode == 0, run.stderr[-3000:]
    figures = re.findall(r": (-?\d+\.\d) µs a reading", run.stdout)
    agent, plain, added = map(float, figures)
    assert agent > 0
    assert plain > 0
    # each of the three figures is rounded to 0.1, so they may disagree by up to 0.15
    assert abs(added - (agent - plain)) <= 0.15 + 1e-9
