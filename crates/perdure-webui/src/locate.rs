//! Where the built UI is: the `--ui-dir` flag (or config key), else `PERDURE_UI_DIR`, else a
//! directory found from the executable: `ui/` beside it (a shipped layout), `ui/build` of the
//! repository whose `target/{debug,release}/` holds it, and last the repository it was compiled
//! from (a build with its own `CARGO_TARGET_DIR` sits outside the repository).

use std::path::{Path, PathBuf};

pub fn locate(flag: Option<PathBuf>) -> Option<PathBuf> {
    if flag.is_some() {
        return flag;
    }
    if let Some(dir) = std::env::var_os("PERDURE_UI_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok();
    candidates(exe.as_deref())
        .into_iter()
        .find(|d| d.join("index.html").is_file())
        .map(|d| d.canonicalize().unwrap_or(d))
}

fn candidates(exe: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(bin_dir) = exe.and_then(Path::parent) {
        out.push(bin_dir.join("ui"));
        let profile = bin_dir.file_name().and_then(|n| n.to_str());
        let target = bin_dir.parent();
        if matches!(profile, Some("debug" | "release"))
            && target.and_then(Path::file_name).and_then(|n| n.to_str()) == Some("target")
        {
            if let Some(repo) = target.and_then(Path::parent) {
                out.push(repo.join("ui").join("build"));
            }
        }
    }
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/build"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_build_dir_from_target_profile() {
        let c = candidates(Some(Path::new("/src/perdure/target/release/perdure")));
        assert_eq!(c[0], Path::new("/src/perdure/target/release/ui"));
        assert_eq!(c[1], Path::new("/src/perdure/ui/build"));
    }

    #[test]
    fn no_repo_guess_outside_a_target_dir() {
        let c = candidates(Some(Path::new("/usr/local/bin/perdure")));
        assert_eq!(
            c.len(),
            2,
            "beside the binary, then the compiled-from repository: {c:?}"
        );
        assert_eq!(c[0], Path::new("/usr/local/bin/ui"));
    }

    #[test]
    fn flag_wins() {
        assert_eq!(locate(Some(PathBuf::from("/x"))), Some(PathBuf::from("/x")));
    }
}
