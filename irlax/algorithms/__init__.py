"""IRL and imitation methods, one module each: `from irlax.algorithms import maxent`.

Known dynamics: `maxent` (MaxEnt, max causal entropy, deep MaxEnt), `apprenticeship`
(Abbeel & Ng 04), `mmp` (max-margin planning, Ratliff 06), `bc` (tabular behaviour cloning).
Each has `fit(mdp, demos, *, key, config=None, **options) -> IRLResult`.

Sampled dynamics: `bc` (neural behaviour cloning, `NeuralBCConfig`), `dagger` (Ross et al.
11), `gail` (Ho & Ermon 16), `airl` (Fu et al. 18), `maxent_sampled` (MaxEnt IRL with a
max-ent RL inner loop), `gcl` (guided cost learning, Finn et al. 16), `iqlearn` (inverse
soft-Q learning, Garg et al. 21) and `mail` (imitation-regularised TD with concurrent actions,
Harmer et al. 18), each with `make_train(config, env, env_params, demos) -> train(key,
expert=None) -> ImitationResult` and `make_trainer(...)` (DAgger also takes the expert policy).
`expert_transitions(env, env_params, demos) -> ExpertTransitions` is the demos as `train`'s
data: passed as `expert`, every demo set of one shape runs one compiled program.
"""

from irlax.algorithms import (
    airl,
    apprenticeship,
    bc,
    dagger,
    gail,
    gcl,
    iqlearn,
    mail,
    maxent,
    maxent_sampled,
    mmp,
)
from irlax.algorithms._common import IRLResult
from irlax.algorithms._deep import ExpertTransitions, ImitationResult, expert_transitions

__all__ = [
    "ExpertTransitions",
    "IRLResult",
    "ImitationResult",
    "airl",
    "apprenticeship",
    "bc",
    "dagger",
    "expert_transitions",
    "gail",
    "gcl",
    "iqlearn",
    "mail",
    "maxent",
    "maxent_sampled",
    "mmp",
]
