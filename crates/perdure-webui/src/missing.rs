//! The page served instead of the UI when it has not been built: how to build it.

use std::path::Path;

const HEAD: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>Perdure: Web UI not built</title></head>\n\
    <body style=\"font-family: sans-serif; max-width: 48rem; margin: 3rem auto\">\n\
    <h1>Perdure Web UI is not built</h1>\n";

const HOW: &str = "<p>Build it from the repository root with <code>scripts/setup.sh</code>, \
    or:</p>\n<pre>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</pre>\n\
    <p>then reload this page (or point Perdure at a build with <code>--ui-dir DIR</code> or \
    <code>PERDURE_UI_DIR=DIR</code>).</p>\n</body></html>\n";

pub(crate) fn page(dir: Option<&Path>) -> String {
    let looked = match dir {
        Some(d) => format!(
            "<p>No built UI (index.html) in <code>{}</code>.</p>\n",
            escape(&d.display().to_string())
        ),
        None => "<p>No built UI was found (no <code>--ui-dir</code>, no \
                 <code>PERDURE_UI_DIR</code>, no <code>ui/build</code> beside the \
                 repository).</p>\n"
            .to_string(),
    };
    format!("{HEAD}{looked}{HOW}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
