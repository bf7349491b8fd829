//! The one integration-test binary (wasmtime's `tests/all` pattern): real guest
//! components, the real exchange simulator on 127.0.0.1, real SQLite files, and the real
//! `seamless` binary for the command-line tests.
//!
//! Guest components must be built first (`just guests`; `just test` does it).

// `.err().expect(..)` reads as "this must fail" and works for Ok types without Debug.
#![allow(clippy::err_expect)]

mod adapter_author;
mod api;
mod backfill_cli;
mod cli;
mod cluster;
mod dashboards;
mod fetch;
mod fuzz;
mod jobs;
mod live;
mod provider;
mod python_strategy;
mod questdb;
mod sandbox;
mod soak;
mod status_page;
mod strategy;
mod support;
mod venues;
