"""Learned value and a reinforcement-learning agent against the plain dispatcher (issue 18), on held-out
simulated nights scored by the outcomes simulator (`schedule/outcomes.py`: the night's actual clouds,
transparency and seeing from the simulator's processes, each frame's S/N; a frame is good when it meets the
request's limits and S/N >= 10).

Training and evaluation never share a night: the value model learns from VALUE_SEEDS (6 sites x 200 requests,
2000 random feasible cells each), the PPO agent from RL_SEEDS (3 sites x 100 requests, RL_STEPS decisions, one
torch thread); every figure below is on HELD_OUT nights, seeds used for no choice (the hyperparameters are the
modules' defaults, fixed before these seeds were drawn).
- network: 6 sites x 300 requests, the plain dispatcher (the grid's value: priority x forecast P(ok)) against the
  dispatcher on the learned value (priority x the model's P(good)).
- small: 3 sites x 100 requests (the RL env's nights): plain, learned value, PPO agent (its actions on the
  dispatcher's decision points: one of the top 5 candidates or wait), and two clairvoyant references that know
  the night's actual weather (`outcomes.hindsight`): the dispatcher and the integer program (CP-SAT, aligned
  blocks with worst-case setups, IP_LIMIT_S) on that knowledge; the program's proven bound is in its own model
  (the value of one exposure opening at each slot's start), a reference rather than a strict bound.
Achieved priority: sum of priority x min(good frames / repeats, 1); completed: requests with all repeats good.
Mean and std over the held-out nights, and each method's ratio to the plain dispatcher (mean of per-night ratios).

Goal (issue 18): report honestly; the target is met when the learned value beats the plain dispatcher on the
network nights' mean achieved priority.
Run: `python -m benchmarks bench_schedule_learned` (writes benchmarks/results/bench_schedule_learned.json).
"""

from __future__ import annotations

import time

import numpy as np

VALUE_SEEDS = range(0, 40)
RL_SEEDS = range(100, 400)
HELD_OUT = range(2000, 2010)
RL_STEPS = 100_000
IP_LIMIT_S = 10.0
SMALL = {"n_requests": 100, "n_sites": 3}
NETWORK = {"n_requests": 300, "n_sites": 6}


def _summary(rows: list[dict], plain: list[dict]) -> dict:
    """Mean, std and per-night values of achieved priority and completed, and the ratio to the plain dispatcher."""
    out = {"per_night": rows}
    for key in ("achieved_priority", "completed"):
        v = np.array([r[key] for r in rows], dtype=float)
        base = np.array([r[key] for r in plain], dtype=float)
        ratio = v / np.maximum(base, 1e-9)
        out[key] = {"mean": round(float(v.mean()), 3), "std": round(float(v.std(ddof=1)), 3),
                    "ratio_mean": round(float(ratio.mean()), 4), "ratio_std": round(float(ratio.std(ddof=1)), 4),
                    "wins": int((v > base).sum()), "losses": int((v < base).sum())}
    return out


def _print(name: str, s: dict) -> None:
    a, c = s["achieved_priority"], s["completed"]
    print(f"   {name:<22} priority {a['mean']:7.1f} ± {a['std']:5.1f} (x{a['ratio_mean']:.3f} ± {a['ratio_std']:.3f}, "
          f"{a['wins']} up / {a['losses']} down)  completed {c['mean']:5.1f} ± {c['std']:4.1f} (x{c['ratio_mean']:.3f})",
          flush=True)


def main() -> dict:
    from openastro.core.offline import configure
    from openastro.schedule.agent import evaluate, train_agent
    from openastro.schedule.dispatcher import dispatch
    from openastro.schedule.exact import solve
    from openastro.schedule.outcomes import Night, hindsight, simulated_night
    from openastro.schedule.value import learned_grid, train

    configure()
    out: dict = {"peer": "the plain dispatcher (grid value: priority x forecast P(ok)) on the same nights",
                 "value_seeds": [VALUE_SEEDS.start, VALUE_SEEDS.stop], "rl_seeds": [RL_SEEDS.start, RL_SEEDS.stop],
                 "held_out": list(HELD_OUT), "rl_steps": RL_STEPS}
    start = time.perf_counter()
    model = train(VALUE_SEEDS)
    out["value_model"] = model.info_ | {"train_s": round(time.perf_counter() - start, 1)}
    start = time.perf_counter()
    agent = train_agent(RL_SEEDS, RL_STEPS, **SMALL)
    out["rl_train_s"] = round(time.perf_counter() - start, 1)
    print(f"   value model: {model.info_['rows']} frames, {out['value_model']['train_s']} s; PPO {RL_STEPS} "
          f"decisions, {out['rl_train_s']} s", flush=True)

    for label, size in (("network", NETWORK), ("small", SMALL)):
        rows: dict[str, list[dict]] = {"plain": [], "learned_value": []}
        if label == "small":
            rows |= {"clairvoyant_dispatch": [], "clairvoyant_ip": []}
            ip_bound = []
        for seed in HELD_OUT:
            grid = simulated_night(seed, **size)
            night = Night(grid)
            rows["plain"].append({"night": seed} | night.score(dispatch(grid)))
            rows["learned_value"].append({"night": seed} | night.score(dispatch(learned_grid(grid, model))))
            if label == "small":
                oracle = hindsight(grid, night)
                rows["clairvoyant_dispatch"].append({"night": seed} | night.score(dispatch(oracle)))
                ov = dispatch(grid).overheads
                exact = solve(oracle, time_limit_s=IP_LIMIT_S, workers=1, hint=dispatch(oracle, ov.fixed(), align=True))
                rows["clairvoyant_ip"].append({"night": seed} | night.score(exact))
                ip_bound.append(float(exact.info["bound"]))
        if label == "small":
            rows["rl_ppo"] = evaluate(agent, HELD_OUT, **SMALL)
        plain = rows["plain"]
        print(f"   {label}: {size['n_sites']} sites x {size['n_requests']} requests, {len(HELD_OUT)} held-out nights",
              flush=True)
        out[label] = {"size": size}
        for name, r in rows.items():
            out[label][name] = _summary(r, plain)
            _print(name, out[label][name])
        if label == "small":
            out[label]["clairvoyant_ip_bound"] = {"mean": round(float(np.mean(ip_bound)), 3),
                                                  "std": round(float(np.std(ip_bound, ddof=1)), 3)}
            print(f"   clairvoyant IP bound (its own model) {np.mean(ip_bound):.1f} ± {np.std(ip_bound, ddof=1):.1f}")
    out["target_met"] = bool(out["network"]["learned_value"]["achieved_priority"]["mean"]
                             > out["network"]["plain"]["achieved_priority"]["mean"])
    return out


if __name__ == "__main__":
    main()
