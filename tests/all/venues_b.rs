//! Venue adapters end to end against the simulator (group b); filled in with its adapters.
