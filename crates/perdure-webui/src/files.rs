//! Files of the built UI. A request path maps to a file only through plain segments (no `..`,
//! `.`, dotfiles, backslashes or NULs), and the file must resolve inside the directory, so
//! symlinks cannot lead out. Hashed assets under `_app/immutable/` are cached for a year;
//! everything else is revalidated so a rebuilt UI shows up on reload. Paths that are not files
//! get `index.html` (the app routes in the browser), except `/api/...` and missing `_app/`
//! assets, which get 404.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

#[derive(Clone)]
pub(crate) struct Site {
    dir: Option<PathBuf>,
}

impl Site {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    pub(crate) async fn serve(&self, method: Method, uri: Uri) -> Response {
        if method != Method::GET && method != Method::HEAD {
            let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let path = uri.path();
        if path == "/api" || path.starts_with("/api/") {
            // grpc-gateway's shape for an unknown route: code 5 (NotFound).
            let body = serde_json::json!({ "code": 5, "message": "Not Found", "details": [] });
            return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
        }
        let dir = match &self.dir {
            Some(d) if d.join("index.html").is_file() => d,
            other => {
                let page = crate::missing::page(other.as_deref());
                return (StatusCode::SERVICE_UNAVAILABLE, html(page)).into_response();
            }
        };
        if let Some(file) = resolve(dir, path) {
            if let Ok(bytes) = tokio::fs::read(&file).await {
                return respond(bytes, &file, cache_for(path));
            }
        }
        if path.starts_with("/_app/") {
            return StatusCode::NOT_FOUND.into_response();
        }
        let index = dir.join("index.html");
        match tokio::fs::read(&index).await {
            Ok(bytes) => respond(bytes, &index, REVALIDATE),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }
}

fn html(page: String) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, REVALIDATE),
        ],
        page,
    )
}

fn respond(bytes: Vec<u8>, file: &Path, cache: &'static str) -> Response {
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(file)));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn cache_for(path: &str) -> &'static str {
    if path.starts_with("/_app/immutable/") {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// The file under `root` that `path` names, if it is a plain relative path to a regular file
/// that stays inside `root` after resolving symlinks.
pub(crate) fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() || rel.contains(['\\', '\0']) {
        return None;
    }
    let mut out = root.to_path_buf();
    for seg in rel.split('/') {
        let mut comps = Path::new(seg).components();
        match (comps.next(), comps.next()) {
            // Dotfiles (the setup script's build stamp) are not part of the site.
            (Some(Component::Normal(c)), None) if !seg.starts_with('.') => out.push(c),
            _ => return None,
        }
    }
    let real = out.canonicalize().ok()?;
    let real_root = root.canonicalize().ok()?;
    (real.starts_with(&real_root) && real.is_file()).then_some(real)
}

pub(crate) fn content_type(file: &Path) -> &'static str {
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_segments_resolve() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("a")).unwrap();
        std::fs::write(d.path().join("a/b.js"), "x").unwrap();
        std::fs::write(d.path().join(".stamp"), "x").unwrap();
        assert!(resolve(d.path(), "/a/b.js").is_some());
        for bad in [
            "/",
            "/a",
            "/a/../a/b.js",
            "/./a/b.js",
            "/.stamp",
            "/a//b.js",
            "/a\\b.js",
            "/../x",
            "/a/b.js\0",
        ] {
            assert_eq!(resolve(d.path(), bad), None, "{bad:?}");
        }
    }

    #[test]
    fn types_by_extension() {
        assert_eq!(
            content_type(Path::new("x.JS")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("f.woff2")), "font/woff2");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
