//! A repository's id in the graph and its workflow id, derived from its URL so that every
//! client names the same repository the same way: `https://user@GitHub.com/Owner/Repo.git` and
//! `git@github.com:Owner/Repo` are both `github.com/Owner/Repo`.

/// Workflow ids of indexing runs start with this; the rest is the repository id.
pub const WORKFLOW_ID_PREFIX: &str = "repo-index:";

/// The id of the repository at `url`: host (lower case) and path, without scheme, user,
/// port, `.git` suffix or trailing slash; local paths keep their path under `local`.
pub fn repo_id_of(url: &str) -> String {
    let url = url.trim();
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            ("local", rest)
        } else {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            rest.split_once('/').unwrap_or((rest, ""))
        }
    } else if url.starts_with('/') || url.starts_with('.') {
        ("local", url)
    } else if let Some((user_host, path)) = url.split_once(':') {
        (
            user_host.rsplit_once('@').map_or(user_host, |(_, h)| h),
            path,
        )
    } else {
        ("local", url)
    };
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    if path.is_empty() {
        host
    } else {
        format!("{host}/{path}")
    }
}

/// The workflow id of the indexing runs of `repo_id`: one run per repository at a time.
pub fn workflow_id_of(repo_id: &str) -> String {
    format!("{WORKFLOW_ID_PREFIX}{repo_id}")
}

#[cfg(test)]
mod tests {
    use super::repo_id_of;

    #[test]
    fn same_repository_same_id() {
        for url in [
            "https://github.com/Owner/Repo",
            "https://github.com/Owner/Repo.git",
            "https://token@GitHub.com/Owner/Repo/",
            "ssh://git@github.com:22/Owner/Repo.git",
            "git@github.com:Owner/Repo.git",
        ] {
            assert_eq!(repo_id_of(url), "github.com/Owner/Repo", "{url}");
        }
    }

    #[test]
    fn local_paths() {
        assert_eq!(repo_id_of("/srv/git/app.git"), "local/srv/git/app");
        assert_eq!(repo_id_of("file:///srv/git/app"), "local/srv/git/app");
    }
}
