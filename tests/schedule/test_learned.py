"""The outcomes simulator, the learned value, the RL environment and a tiny PPO agent (issue 18)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from openastro.core.offline import configure

configure()


@pytest.fixture(scope="module")
def night():
    """A small simulated night (3 sites x 60 requests) and its actual weather."""
    from openastro.schedule.outcomes import Night, simulated_night

    grid = simulated_night(5, n_requests=60, n_sites=3)
    return grid, Night(grid)


@pytest.fixture(scope="module")
def value_model():
    """A value model trained on four small nights, and held-out draws from two others."""
    from openastro.schedule.value import ValueModel, training_set

    X, y = training_set(range(4), per_night=1500, n_requests=100, n_sites=3)
    X_test, y_test = training_set([900, 901], per_night=1500, n_requests=100, n_sites=3)
    return ValueModel(n_estimators=150).fit(X, y), X_test, y_test


def test_outcomes_are_deterministic_from_the_seed(night):
    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.outcomes import Night

    grid, truth = night
    plan = dispatch(grid)
    again = Night(grid).score(plan)
    assert again == truth.score(plan)
    assert 0 < again["achieved_priority"] <= again["total_priority"]
    other = Night(grid, seed=grid.settings.seed + 1).score(plan)
    assert other != again


def test_clouds_lower_the_achieved_value(night):
    from openastro.schedule.dispatcher import dispatch

    grid, truth = night
    plan = dispatch(grid)
    clear = truth.score(plan)["achieved_priority"]
    cloudy = copy.copy(truth)
    cloudy.open = truth.open.copy()
    cloudy.open[:, ::2] = False  # every other minute overcast
    assert cloudy.score(plan)["achieved_priority"] < clear
    thin = copy.copy(truth)
    thin.transparency = truth.transparency * 0.1  # 2.5 mag of cloud: the S/N falls
    assert thin.score(plan)["achieved_priority"] < clear


def test_the_value_model_learns_and_round_trips(value_model, tmp_path):
    from openastro.schedule.value import ValueModel

    model, X_test, y_test = value_model
    assert 0.1 < y_test.mean() < 0.95
    assert model.score(X_test, y_test) > 0.7
    again = ValueModel.load(model.save(tmp_path / "value"))
    np.testing.assert_allclose(again.predict_proba(X_test[:200]), model.predict_proba(X_test[:200]))


def test_the_learned_grid_keeps_feasibility_and_dispatches(night, value_model):
    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.value import learned_grid

    grid, truth = night
    learned = learned_grid(grid, value_model[0])
    assert np.array_equal(learned.value > 0, grid.value > 0)
    assert np.all(learned.value <= grid.priority[:, None, None] + 1e-6)
    plan = dispatch(learned)
    assert plan.blocks and np.isfinite(truth.score(plan)["achieved_priority"])


def test_the_env_passes_the_checker_and_action_0_is_the_dispatcher():
    from gymnasium.utils.env_checker import check_env

    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.env import NightEnv

    env = NightEnv(seeds=[3, 4], n_requests=40, n_sites=2)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(options={"night": 3})
    assert obs.shape == env.observation_space.shape and info["night"] == 3
    total, done, steps = 0.0, False, 0
    while not done:
        obs, reward, done, truncated, _ = env.step(0)
        assert np.isfinite(reward) and reward >= 0 and not truncated
        total, steps = total + reward, steps + 1
    assert steps > 0
    reference = env.night.score(dispatch(env.grid))["achieved_priority"]
    assert total == pytest.approx(reference)
    assert [(b.request, b.site, b.start_mjd) for b in env.plan.blocks] == \
        [(b.request, b.site, b.start_mjd) for b in dispatch(env.grid).blocks]


def test_waiting_and_other_ranks_end_the_night():
    from openastro.schedule.env import NightEnv

    env = NightEnv(seeds=[3], n_requests=40, n_sites=2)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    done, steps = False, 0
    while not done and steps < 10_000:
        _, reward, done, _, _ = env.step(int(rng.integers(0, env.action_space.n)))
        assert np.isfinite(reward)
        steps += 1
    assert done


def test_a_tiny_ppo_run_trains_and_acts(tmp_path):
    from openastro.schedule.agent import evaluate, load_agent, train_agent

    agent = train_agent([1, 2], timesteps=256, n_requests=30, n_sites=2, n_steps=128, batch_size=64, n_epochs=2)
    path = tmp_path / "ppo.zip"
    agent.save(path)
    rows = evaluate(load_agent(path), [9], n_requests=30, n_sites=2)
    assert rows[0]["decisions"] > 0 and np.isfinite(rows[0]["achieved_priority"])


def test_the_cli_trains_and_plans_on_the_learned_value(cli, tmp_path):
    import json

    path = tmp_path / "requests.csv"
    path.write_text("name,ra,dec,priority,exposure_s,repeats,filter\nM42,83.82,-5.39,5,120,2,r\n"
                    "Sirius,101.29,-16.72,4,60,3,\nM67,132.85,11.81,3,300,1,g\n")
    ws = tmp_path / "w"
    small = [f"schedule_value.{k}={v}" for k, v in (("per_night", 800), ("n_requests", 60), ("n_sites", 3),
                                                    ("held_out", 2))]  # small nights: a quick test
    code, out, err = cli("train", "schedule_value", "--nights", "2", "--workdir", ws, "--json",
                         *(a for s in small for a in ("--set", s)))
    assert code == 0, err
    trained = json.loads(out)
    assert trained["held_out_auc"] > 0.5 and trained["train_seeds"] == [0, 1]
    assert (ws / "models" / "schedule_value" / "MODEL_CARD.md").is_file()
    code, out, err = cli("schedule", "--night", "2026-03-20", "--site", "cerro-tololo", "--requests", path,
                         "--value", "learned", "--workdir", ws, "--json")
    assert code == 0, err
    assert json.loads(out)["scheduled"]
    plan = json.loads((ws / "plans" / "2026-03-20.json").read_text())
    assert str(ws / "models" / "schedule_value") in json.dumps(plan)  # the workspace's model, not the shipped one
    code, _, err = cli("schedule", "--night", "2026-03-20", "--requests", path, "--value", tmp_path / "none",
                       "--workdir", ws)
    assert code == 2 and "no trained schedule_value model" in err


def test_the_shipped_value_model_plans_out_of_the_box(cli, tmp_path):
    import json

    path = tmp_path / "requests.csv"
    path.write_text("name,ra,dec,priority\nM42,83.82,-5.39,5\nM67,132.85,11.81,3\n")
    code, out, err = cli("schedule", "--night", "2026-03-20", "--site", "cerro-tololo", "--requests", path,
                         "--value", "learned", "--workdir", tmp_path / "w", "--json")
    assert code == 0, err
    assert json.loads(out)["scheduled"]
    plan = json.loads((tmp_path / "w" / "plans" / "2026-03-20.json").read_text())
    assert "weights/schedule_value" in json.dumps(plan)

