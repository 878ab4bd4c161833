"""Adapters that expose :class:`semjax.env.SemanticMEC` through other frameworks' interfaces.

Each adapter lives in its own module and imports its framework only there, so ``import
semjax`` never needs them (install with ``pip install "semjax[adapters]"``):

- :mod:`semjax.adapters.jaxmarl`: JaxMARL's ``MultiAgentEnv`` (dicts keyed by agent, pure JAX).
- :mod:`semjax.adapters.gymnax`: a gymnax ``Environment``, the centralised controller that
  picks every UE's action at once (single-agent algorithms).
- :mod:`semjax.adapters.pettingzoo`: a PettingZoo ``ParallelEnv`` (NumPy at the boundary).
- :mod:`semjax.adapters.gymnasium`: a Gymnasium ``Env`` (one world, centralised controller)
  and a Gymnasium ``VectorEnv`` that steps a batch of worlds in one jitted call.

Every adapter takes an ``action_space`` option (:mod:`semjax.adapters.common`):

- ``"hybrid"`` (the default): the env's own action (SPEC section 2), a dictionary with the
  keys :data:`semjax.adapters.common.ACTION_KEYS`: a discrete ``choice`` in {0..K} (0 local,
  c offload on sub-channel c-1) and ``power`` (W), ``freq`` (Hz) and ``mu`` in physical units.
- ``"discrete"``: one integer per UE in {0..n-1}, the joint index of discrete MAPPO's bins
  (``semantic`` and ``bins`` as ``train.semantic`` / ``train.bins``), decoded by
  :func:`semjax.agents.distributions.index_to_action`, the code D3QN acts through. Each
  agent of the multi-agent adapters gets a ``Discrete(n)``; the centralised controllers get
  N such integers (a ``MultiDiscrete``, or an integer box in gymnax). This is the option that
  trainers expecting a categorical action per agent can drive unchanged.

The reward each agent receives is the raw team reward r = sum_n r_n; the per-UE r_n is in
the info. It is unclipped: semjax's MAPPO and D3QN learn from the same sum with each r_n
floored at ``-reward_clip`` (the latency penalty is unbounded), which a trainer of one's own
can do from the info. A logger that sums rewards over agents reports N times the team
return (see :mod:`semjax.adapters.jaxmarl`).
"""
