//! What a config may name, as the loader sees it: workflow types, activities, activity sets and
//! workload tables. The registry implements it; config code never depends on the registry.

use super::section::SectionType;

/// The names a `workers.toml` may use.
pub trait Catalog {
    /// Whether `name` is a registered workflow type.
    fn has_workflow(&self, name: &str) -> bool;
    /// The activities `name` stands for (a set's members, or the activity itself); `None` when
    /// it is neither.
    fn resolve_activities(&self, name: &str) -> Option<Vec<&str>>;
    /// Registered workflow types.
    fn workflow_names(&self) -> Vec<&str>;
    /// Registered single activities.
    fn activity_names(&self) -> Vec<&str>;
    /// Registered activity sets.
    fn activity_set_names(&self) -> Vec<&str>;
    /// Registered workload tables: how to load each, and its schema.
    fn sections(&self) -> Vec<(&'static str, SectionType)>;
}
