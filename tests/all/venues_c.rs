//! Venue adapters end to end against the simulator (group c); filled in with its adapters.
