//! The router over a temporary build directory: what a browser gets for each kind of path.

use std::path::Path;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

fn build_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("index.html"), "<html>app</html>").unwrap();
    std::fs::create_dir_all(d.path().join("_app/immutable/entry")).unwrap();
    std::fs::write(
        d.path().join("_app/immutable/entry/start.abc123.js"),
        "export{}",
    )
    .unwrap();
    std::fs::write(d.path().join("_app/version.json"), "{\"version\":\"1\"}").unwrap();
    std::fs::write(d.path().join("_app/immutable/app.css"), "body{}").unwrap();
    d
}

async fn get(dir: Option<&Path>, path: &str) -> (StatusCode, String, String, String) {
    let app = perdure_webui::router(dir.map(Path::to_path_buf));
    let res = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |n: &str| {
        res.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (ct, cc) = (header("content-type"), header("cache-control"));
    let status = res.status();
    let body = to_bytes(res.into_body(), 1 << 20).await.unwrap();
    (status, ct, cc, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn hashed_assets_have_their_type_and_are_cached_for_good() {
    let d = build_dir();
    let (s, ct, cc, body) = get(Some(d.path()), "/_app/immutable/entry/start.abc123.js").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "text/javascript; charset=utf-8");
    assert_eq!(cc, "public, max-age=31536000, immutable");
    assert_eq!(body, "export{}");
    let (_, ct, _, _) = get(Some(d.path()), "/_app/immutable/app.css").await;
    assert_eq!(ct, "text/css; charset=utf-8");
    let (_, ct, cc, _) = get(Some(d.path()), "/_app/version.json").await;
    assert_eq!((ct.as_str(), cc.as_str()), ("application/json", "no-cache"));
}

#[tokio::test]
async fn app_routes_fall_back_to_index() {
    let d = build_dir();
    for path in [
        "/",
        "/namespaces/default/workflows",
        "/namespaces/default/workflows/a%2Fb/r/history",
    ] {
        let (s, ct, cc, body) = get(Some(d.path()), path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(ct, "text/html; charset=utf-8");
        assert_eq!(cc, "no-cache");
        assert_eq!(body, "<html>app</html>");
    }
}

#[tokio::test]
async fn api_and_missing_assets_are_not_the_app() {
    let d = build_dir();
    let (s, ct, _, body) = get(Some(d.path()), "/api/v1/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(ct, "application/json");
    assert!(body.contains("\"code\":5"), "{body}");
    let (s, _, _, _) = get(Some(d.path()), "/_app/immutable/entry/gone.js").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_path_leaves_the_build_dir() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.txt"), "secret").unwrap();
    let d = outer.path().join("build");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("index.html"), "<html>app</html>").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), d.join("link.txt")).unwrap();
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/a/../../secret.txt",
        "/link.txt",
        "/.\\..\\secret.txt",
    ] {
        let (_, _, _, body) = get(Some(&d), path).await;
        assert!(!body.contains("secret"), "{path} leaked: {body}");
    }
}

#[tokio::test]
async fn without_a_build_the_root_says_how_to_build() {
    let empty = tempfile::tempdir().unwrap();
    for dir in [None, Some(empty.path())] {
        let (s, ct, _, body) = get(dir, "/").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ct, "text/html; charset=utf-8");
        assert!(body.contains("scripts/setup.sh"), "{body}");
        assert!(
            body.contains("npm --prefix ui ci &amp;&amp; npm --prefix ui run build"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn settings_for_the_ui() {
    let (s, ct, _, body) = get(None, "/api/v1/settings").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/json");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["DefaultNamespace"], "default");
    assert_eq!(v["DisableWriteActions"], false);
    assert_eq!(v["Version"], perdure_webui::UI_VERSION);
}
