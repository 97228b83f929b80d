"""IRL and imitation methods, one module each: `from irlax.algorithms import maxent`.

Known dynamics: `maxent` (MaxEnt, max causal entropy, deep MaxEnt), `apprenticeship`
(Abbeel & Ng 04), `mmp` (max-margin planning, Ratliff 06), `bc` (tabular behaviour cloning).
Each has `fit(mdp, demos, *, key, config=None, **options) -> IRLResult`.
"""

from irlax.algorithms import apprenticeship, bc, maxent, mmp
from irlax.algorithms._common import IRLResult

__all__ = ["IRLResult", "apprenticeship", "bc", "maxent", "mmp"]
