//! The footprint of a commit's tree, measured before any file is read: the bytes of every
//! file, the number of entries and the depth of the deepest path, read from tree objects and
//! object headers (no file content is inflated). A pack of one small blob that appears at
//! thousands of paths is refused here, not after the parse has read gigabytes.

use std::collections::HashMap;

use git2::{ObjectType, Oid, Repository, Tree, TreeWalkMode, TreeWalkResult};

use super::{CloneLimits, error::Limit};

/// The first limit a tree goes over: which, the limit, and what was counted when it was
/// passed (the walk stops there).
pub(crate) type Exceeded = (Limit, u64, u64);

/// Walks `tree` and stops at the first of `limits` it passes. Symlinks count their target's
/// length, submodules one entry and no bytes.
pub(crate) fn check(
    repo: &Repository,
    tree: &Tree<'_>,
    limits: &CloneLimits,
) -> Result<Option<Exceeded>, git2::Error> {
    let odb = repo.odb()?;
    let mut sizes: HashMap<Oid, u64> = HashMap::new();
    let (mut bytes, mut entries) = (0u64, 0u64);
    let mut exceeded = None;
    let mut failed = None;
    tree.walk(TreeWalkMode::PreOrder, |root, entry| {
        entries += 1;
        // `root` is the entry's folder with a trailing slash ("" at the top).
        let depth = root.matches('/').count() as u64 + 1;
        if depth > u64::from(limits.max_path_depth) {
            exceeded = Some((Limit::PathDepth, u64::from(limits.max_path_depth), depth));
        } else if entries > limits.max_tree_entries {
            exceeded = Some((Limit::TreeEntries, limits.max_tree_entries, entries));
        } else if entry.kind() == Some(ObjectType::Blob) {
            let size = match sizes.get(&entry.id()) {
                Some(size) => *size,
                None => match odb.read_header(entry.id()) {
                    Ok((size, _)) => *sizes.entry(entry.id()).or_insert(size as u64),
                    Err(e) => {
                        failed = Some(e);
                        return TreeWalkResult::Abort;
                    }
                },
            };
            bytes = bytes.saturating_add(size);
            if bytes > limits.max_bytes {
                exceeded = Some((Limit::TreeBytes, limits.max_bytes, bytes));
            }
        }
        if exceeded.is_some() {
            TreeWalkResult::Abort
        } else {
            TreeWalkResult::Ok
        }
    })
    .or_else(|e| {
        // An abort from the callback surfaces as a user error: not a failure of the walk.
        if exceeded.is_some() || failed.is_some() {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(exceeded),
    }
}
