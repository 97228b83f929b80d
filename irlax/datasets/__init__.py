"""Real demonstration data shipped with irlax: Rust's (1987) bus-engine replacements and
vessel tracks in New York Harbor."""

from irlax.datasets.ny_harbor import NYHarbor, ny_harbor
from irlax.datasets.rust_bus import RustBus, rust_bus

__all__ = ["NYHarbor", "RustBus", "ny_harbor", "rust_bus"]
