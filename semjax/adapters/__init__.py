"""Adapters that expose :class:`semjax.env.SemanticMEC` through other frameworks' interfaces.

Each adapter lives in its own module and imports its framework only there, so ``import
semjax`` never needs them (install with ``pip install "semjax[adapters]"``):

- :mod:`semjax.adapters.jaxmarl`: JaxMARL's ``MultiAgentEnv`` (dicts keyed by agent, pure JAX).
- :mod:`semjax.adapters.gymnax`: a gymnax ``Environment``, the centralised controller that
  picks every UE's action at once (single-agent algorithms).
- :mod:`semjax.adapters.pettingzoo`: a PettingZoo ``ParallelEnv`` (NumPy at the boundary).
- :mod:`semjax.adapters.gymnasium`: a Gymnasium ``Env`` (one world, centralised controller)
  and a Gymnasium ``VectorEnv`` that steps a batch of worlds in one jitted call.

Every adapter speaks the same hybrid action as the env (SPEC section 2): a discrete
``choice`` in {0..K} (0 local, c offload on sub-channel c-1) and ``power`` (W), ``freq``
(Hz) and ``mu`` in physical units, as a dictionary with those four keys
(:data:`semjax.adapters.common.ACTION_KEYS`). The reward each agent receives is the team
reward r = sum_n r_n that MAPPO learns from (unclipped); the per-UE r_n is in the info.
"""
