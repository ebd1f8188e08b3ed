//! The Web UI on the node's HTTP port: the static build of `ui/` (a SvelteKit app made of
//! Temporal's own UI components, npm `@temporalio/ui`) at `/`, and `/api/v1/settings`, the one
//! UI endpoint that Temporal's Go ui-server answers rather than its frontend.
//!
//! Owns: finding the built directory, serving its files safely (no path escapes the directory),
//! the single-page-app fallback to `index.html`, and the page shown when the UI is not built.
//! Must never: serve the workflow API (that is `perdure-httpapi` under `/api/v1/...`), hold
//! state, or answer an unknown `/api/` path with HTML.

mod files;
mod locate;
mod missing;
mod settings;

use std::path::PathBuf;

use axum::routing::get;
use axum::Router;

pub use locate::locate;
pub use settings::UI_VERSION;

/// `/api/v1/settings` plus a fallback serving `ui_dir` (or, when it is `None` or has no
/// `index.html`, a page saying how to build the UI). Merge it last: its fallback answers every
/// path no other route claims.
pub fn router(ui_dir: Option<PathBuf>) -> Router {
    let site = files::Site::new(ui_dir);
    Router::new()
        .route("/api/v1/settings", get(settings::settings))
        .fallback(move |method, uri| {
            let site = site.clone();
            async move { site.serve(method, uri).await }
        })
}
