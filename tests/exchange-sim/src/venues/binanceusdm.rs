//! binanceusdm: not served yet (stub; its module replaces this file).

use std::sync::Arc;

use axum::Router;

use crate::server::Shared;

/// Routes of this venue, relative to its `/binanceusdm` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
}
