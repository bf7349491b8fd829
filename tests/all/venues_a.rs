//! Venue adapters end to end against the simulator (group a); filled in with its adapters.
