//! From the refs a remote advertises and the ref a caller asked for to what to fetch: a
//! branch, a tag, any full ref name, or a commit id (full or abbreviated). Pure logic, no I/O.

use git2::{Oid, Reference};

use super::error::CloneError;

/// One ref the remote advertised (`git ls-remote`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// Full name: `HEAD`, `refs/heads/main`, `refs/tags/v1`, `refs/tags/v1^{}` (peeled).
    pub name: String,
    pub oid: Oid,
    /// For a symbolic ref (`HEAD`), the ref it points to.
    pub symref_target: Option<String>,
}

/// Where the commit that a full or abbreviated id names may be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// An advertised ref: fetch `src` into the local ref `dst`; the commit is what `dst`
    /// peels to.
    Ref { src: String, dst: String },
    /// A full commit id no ref advertises: ask for it by id (a server may refuse), else fetch
    /// every branch and tag and look for it.
    FullId(Oid),
    /// An abbreviated id no ref advertises: fetch every branch and tag and look for it.
    Abbreviated(String),
}

/// Refspecs that fetch every branch and tag.
pub(crate) const EVERYTHING: [&str; 2] = [
    "+refs/heads/*:refs/remotes/origin/*",
    "+refs/tags/*:refs/tags/*",
];

/// Local ref that receives a commit fetched by id; deleted once the commit is found.
pub(crate) const WANTED_REF: &str = "refs/worker-host/wanted";

/// Shortest abbreviated commit id accepted (git's own minimum).
const MIN_ABBREV: usize = 4;

/// The remote's default branch: the branch its `HEAD` points to.
pub(crate) fn default_branch(heads: &[Head]) -> Option<String> {
    heads
        .iter()
        .find(|h| h.name == "HEAD")?
        .symref_target
        .as_deref()?
        .strip_prefix("refs/heads/")
        .map(str::to_owned)
}

/// Plans the fetch of `reference` (`None`, empty or `HEAD`: the remote's default branch).
pub(crate) fn plan(
    heads: &[Head],
    reference: Option<&str>,
    url: &str,
) -> Result<Wanted, CloneError> {
    match reference.filter(|r| !r.is_empty() && *r != "HEAD") {
        None => default_plan(heads, url),
        Some(reference) => named_plan(heads, reference, url),
    }
}

fn default_plan(heads: &[Head], url: &str) -> Result<Wanted, CloneError> {
    if let Some(branch) = default_branch(heads) {
        return Ok(branch_plan(&branch));
    }
    if heads.iter().any(|h| h.name == "HEAD") {
        // A detached HEAD: fetch it as is.
        return Ok(ref_plan("HEAD"));
    }
    if heads.is_empty() {
        return Err(CloneError::EmptyRepository {
            url: url.to_owned(),
        });
    }
    Err(unknown(
        url,
        "HEAD",
        "the remote's HEAD points to no commit; name a branch, tag or commit",
    ))
}

fn named_plan(heads: &[Head], reference: &str, url: &str) -> Result<Wanted, CloneError> {
    let advertised = |name: &str| heads.iter().any(|h| h.name == name);
    if reference.starts_with("refs/") {
        if !Reference::is_valid_name(reference) {
            return Err(unknown(url, reference, "not a valid ref name"));
        }
        if advertised(reference) {
            return Ok(match reference.strip_prefix("refs/heads/") {
                Some(branch) => branch_plan(branch),
                None => ref_plan(reference),
            });
        }
        return Err(unknown(url, reference, "the remote has no such ref"));
    }
    let as_branch = format!("refs/heads/{reference}");
    if Reference::is_valid_name(&as_branch) {
        if advertised(&as_branch) {
            return Ok(branch_plan(reference));
        }
        let as_tag = format!("refs/tags/{reference}");
        if advertised(&as_tag) {
            return Ok(ref_plan(&as_tag));
        }
    }
    if (MIN_ABBREV..=40).contains(&reference.len())
        && reference.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Ok(commit_plan(heads, &reference.to_ascii_lowercase()));
    }
    if Reference::is_valid_name(&as_branch) {
        Err(unknown(
            url,
            reference,
            "no branch, tag or commit has this name",
        ))
    } else {
        Err(unknown(url, reference, "not a valid ref name"))
    }
}

fn commit_plan(heads: &[Head], hex: &str) -> Wanted {
    let mut matching = heads.iter().filter(|h| h.oid.to_string().starts_with(hex));
    let tip = matching.next();
    let unique = tip.is_some_and(|tip| matching.all(|h| h.oid == tip.oid));
    match tip {
        // A ref's tip (or the commit an annotated tag peels to): fetch that ref, which can be
        // shallow.
        Some(tip) if unique => ref_plan(tip.name.trim_end_matches("^{}")),
        _ if hex.len() == 40 => match Oid::from_str(hex) {
            Ok(oid) => Wanted::FullId(oid),
            Err(_) => Wanted::Abbreviated(hex.to_owned()),
        },
        _ => Wanted::Abbreviated(hex.to_owned()),
    }
}

fn branch_plan(branch: &str) -> Wanted {
    Wanted::Ref {
        src: format!("refs/heads/{branch}"),
        dst: format!("refs/remotes/origin/{branch}"),
    }
}

/// An advertised ref other than a branch (tags keep their name, `HEAD` becomes
/// `refs/remotes/origin/HEAD`, a branch tip `refs/remotes/origin/<branch>`).
fn ref_plan(name: &str) -> Wanted {
    let dst = if name == "HEAD" {
        "refs/remotes/origin/HEAD".to_owned()
    } else if let Some(branch) = name.strip_prefix("refs/heads/") {
        format!("refs/remotes/origin/{branch}")
    } else {
        name.to_owned()
    };
    Wanted::Ref {
        src: name.to_owned(),
        dst,
    }
}

fn unknown(url: &str, reference: &str, reason: &str) -> CloneError {
    CloneError::UnknownRef {
        url: url.to_owned(),
        reference: reference.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = "1111111111111111111111111111111111111111";
    const FEATURE: &str = "2222222222222222222222222222222222222222";
    const TAG_OBJECT: &str = "3333333333333333333333333333333333333333";
    const TAGGED: &str = "4444444444444444444444444444444444444444";

    fn head(name: &str, oid: &str, symref: Option<&str>) -> Head {
        Head {
            name: name.to_owned(),
            oid: Oid::from_str(oid).expect("test oid"),
            symref_target: symref.map(str::to_owned),
        }
    }

    fn heads() -> Vec<Head> {
        vec![
            head("HEAD", MAIN, Some("refs/heads/main")),
            head("refs/heads/main", MAIN, None),
            head("refs/heads/feature", FEATURE, None),
            head("refs/tags/v1", TAG_OBJECT, None),
            head("refs/tags/v1^{}", TAGGED, None),
        ]
    }

    fn wanted_src(plan: &Wanted) -> &str {
        match plan {
            Wanted::Ref { src, .. } => src,
            other => panic!("expected a ref, got {other:?}"),
        }
    }

    #[test]
    fn default_is_heads_branch() {
        assert_eq!(default_branch(&heads()).as_deref(), Some("main"));
        for reference in [None, Some(""), Some("HEAD")] {
            let p = plan(&heads(), reference, "u").expect("default");
            assert_eq!(wanted_src(&p), "refs/heads/main");
        }
    }

    #[test]
    fn branches_tags_and_full_names() {
        let p = plan(&heads(), Some("feature"), "u").expect("branch");
        assert_eq!(wanted_src(&p), "refs/heads/feature");
        let p = plan(&heads(), Some("v1"), "u").expect("tag");
        assert_eq!(wanted_src(&p), "refs/tags/v1");
        let p = plan(&heads(), Some("refs/heads/feature"), "u").expect("full branch");
        assert_eq!(wanted_src(&p), "refs/heads/feature");
    }

    #[test]
    fn commit_ids_use_an_advertised_tip_when_there_is_one() {
        let p = plan(&heads(), Some(&FEATURE[..7]), "u").expect("tip prefix");
        assert_eq!(wanted_src(&p), "refs/heads/feature");
        let p = plan(&heads(), Some(TAGGED), "u").expect("peeled tag");
        assert_eq!(wanted_src(&p), "refs/tags/v1");
        let p = plan(&heads(), Some(&"ABCDEF".repeat(7)[..40]), "u").expect("full id");
        assert!(matches!(p, Wanted::FullId(_)));
        let p = plan(&heads(), Some("abcdef1"), "u").expect("abbreviated");
        assert_eq!(p, Wanted::Abbreviated("abcdef1".into()));
    }

    #[test]
    fn unknown_and_invalid_refs_are_errors_naming_the_ref() {
        for reference in ["nope", "refs/heads/nope", "a..b", "x:y", "abc", "-rf"] {
            let err = plan(&heads(), Some(reference), "u").expect_err(reference);
            assert_eq!(err.kind(), "UnknownRef", "{reference}");
            assert!(err.to_string().contains(reference));
        }
    }

    #[test]
    fn no_refs_is_an_empty_repository() {
        let err = plan(&[], None, "u").expect_err("empty");
        assert!(matches!(err, CloneError::EmptyRepository { .. }));
        let only_branch = vec![head("refs/heads/x", MAIN, None)];
        let err = plan(&only_branch, None, "u").expect_err("no HEAD");
        assert_eq!(err.kind(), "UnknownRef");
    }
}
