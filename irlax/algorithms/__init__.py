"""IRL and imitation methods, one module each: `from irlax.algorithms import maxent`.

Known dynamics: `maxent` (MaxEnt, max causal entropy, deep MaxEnt), `apprenticeship`
(Abbeel & Ng 04), `mmp` (max-margin planning, Ratliff 06), `bc` (tabular behaviour cloning).
Each has `fit(mdp, demos, *, key, config=None, **options) -> IRLResult`.

Sampled dynamics: `gail` (Ho & Ermon 16) and `airl` (Fu et al. 18), each with
`make_train(config, env, env_params, demos) -> train(key) -> ImitationResult` and
`make_trainer(...)`.
"""

from irlax.algorithms import airl, apprenticeship, bc, gail, maxent, mmp
from irlax.algorithms._common import IRLResult
from irlax.algorithms._deep import ImitationResult

__all__ = [
    "IRLResult",
    "ImitationResult",
    "airl",
    "apprenticeship",
    "bc",
    "gail",
    "maxent",
    "mmp",
]
