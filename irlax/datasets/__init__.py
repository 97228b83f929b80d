"""Real demonstration data shipped with irlax: Rust's (1987) bus-engine replacements."""

from irlax.datasets.rust_bus import RustBus, rust_bus

__all__ = ["RustBus", "rust_bus"]
