"""A baseline RL agent for the network night: stable-baselines3 PPO on `env.NightEnv`, trained on some simulated
nights and evaluated on others beside the plain dispatcher (action 0 at every decision).

    agent = train_agent(seeds=range(200), timesteps=30_000)   # CPU, one torch thread
    evaluate(agent, seeds=[2000, 2001, ...])                  # per night: achieved priority, completed
    agent.save("models/schedule_ppo.zip"); load_agent("models/schedule_ppo.zip")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from openastro.schedule.env import NightEnv


def train_agent(seeds: Iterable[int], timesteps: int = 30_000, n_requests: int = 100, n_sites: int = 3,
                seed: int = 0, **ppo: Any) -> Any:
    """A PPO agent (MLP policy) trained for `timesteps` decisions on the simulated nights `seeds` (one thread)."""
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    env = NightEnv(list(seeds), n_requests, n_sites)
    params = {"n_steps": 1024, "batch_size": 128, "learning_rate": 3e-4, "gamma": 0.99, "ent_coef": 0.01,
              "policy_kwargs": {"net_arch": [64, 64]}} | ppo
    agent = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **params)
    return agent.learn(total_timesteps=timesteps)


def load_agent(path: Path | str) -> Any:
    """The PPO agent `agent.save(path)` wrote (an SB3 zip)."""
    from stable_baselines3 import PPO

    return PPO.load(str(path), device="cpu")


def policy_of(agent: Any) -> Callable[[np.ndarray], int]:
    """The agent's deterministic action for an observation; `agent` None: the dispatcher (always 0)."""
    if agent is None:
        return lambda obs: 0
    return lambda obs: int(agent.predict(obs, deterministic=True)[0])


def run_night(policy: Callable[[np.ndarray], int], night: int, n_requests: int = 100,
              n_sites: int = 3) -> dict[str, Any]:
    """One night under `policy`: achieved priority (the episode's return), completed requests, decisions."""
    env = NightEnv([night], n_requests, n_sites)
    obs, _ = env.reset(options={"night": night})
    total, steps, done, waits = 0.0, 0, False, 0
    while not done:
        action = policy(obs)
        waits += action == env.k
        obs, reward, done, _, _ = env.step(action)
        total, steps = total + reward, steps + 1
    score = env.night.score(env.plan)
    return {"night": night, "achieved_priority": round(total, 4), "completed": score["completed"],
            "frames_good": score["frames_good"], "decisions": steps, "waits": int(waits)}


def evaluate(agent: Any, seeds: Iterable[int], n_requests: int = 100, n_sites: int = 3) -> list[dict[str, Any]]:
    """Per night of `seeds`: what the agent (None: the plain dispatcher) achieves."""
    policy = policy_of(agent)
    return [run_night(policy, int(s), n_requests, n_sites) for s in seeds]
