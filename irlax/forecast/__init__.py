"""Activity forecasting (Kitani et al. ECCV 2012): where will this person walk?

Learn what walkers find costly on a semantic map from their tracks (goal-conditioned
MaxEnt IRL), then forecast a newly seen walker's destination, path and whereabouts.
"""

from irlax.forecast.model import (
    Forecast,
    ForecastConfig,
    ForecastModel,
    assign_goals,
    cost_map,
    destinations_from_endpoints,
    fit,
    forecast,
    goal_posterior,
    move_log_probs,
    simulate,
)
from irlax.forecast.planning import (
    MIN_COST,
    MOVES,
    expected_visits,
    goal_values,
    move_probabilities,
)
from irlax.forecast.scene import Scene
from irlax.forecast.tracks import cell_path, to_paths, to_trajectories

__all__ = [
    "MIN_COST",
    "MOVES",
    "Forecast",
    "ForecastConfig",
    "ForecastModel",
    "Scene",
    "assign_goals",
    "cell_path",
    "cost_map",
    "destinations_from_endpoints",
    "expected_visits",
    "fit",
    "forecast",
    "goal_posterior",
    "goal_values",
    "move_log_probs",
    "move_probabilities",
    "simulate",
    "to_paths",
    "to_trajectories",
]
