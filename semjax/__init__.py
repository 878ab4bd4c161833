"""semjax: a JAX-accelerated, vectorised simulator of semantic-aware mobile edge computing.

Public names: ``SemanticMEC`` (the env), ``EnvParams`` and ``TaskProfile`` (its traced
parameters), ``Action``, ``EnvState``, ``physics`` (SPEC section 3 as pure functions),
``load_profile`` and ``reference`` (the float64 NumPy model).
"""

from semjax.host import configure_cpu

configure_cpu()  # before anything starts JAX's backend (semjax.host explains)

from semjax import physics  # noqa: E402
from semjax.env import ActionSpace, EnvState, SemanticMEC  # noqa: E402
from semjax.params import EnvParams, TaskProfile, batch_axes, load_profile, profile_from_dict  # noqa: E402
from semjax.physics import Action, StepMetrics  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ActionSpace",
    "EnvParams",
    "EnvState",
    "SemanticMEC",
    "StepMetrics",
    "TaskProfile",
    "batch_axes",
    "load_profile",
    "physics",
    "profile_from_dict",
    "__version__",
]
