//! A workload's own table in `workers.toml` (`[indexing]`, ...). The host knows no workload: a
//! workload declares its table by implementing [`Section`] and registering it
//! ([`crate::Registry::section`]); loading then parses and checks it with the same
//! file:line:column errors as the host's own keys, a reload says what a change of it does, and
//! `worker-host schema` includes its JSON Schema.

use super::key_path::{KeyPath, Problems};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value as Json;
use std::{any::Any, collections::BTreeMap, fmt::Debug, sync::Arc};

/// What a changed table does when the config is reloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionReload {
    /// The workload reads the table when work starts: the change applies to the next run.
    NextRun,
    /// The change needs a restart of the host: a reload that changes it is rejected.
    Restart,
}

/// A workload's table: its type is its schema (unknown keys and wrong types are reported like
/// the host's own, and its JSON Schema is derived from it), [`Section::validate`] adds the checks
/// types cannot express.
pub trait Section:
    Serialize
    + DeserializeOwned
    + JsonSchema
    + Default
    + Clone
    + PartialEq
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The table's name, e.g. `indexing` for `[indexing]`.
    const NAME: &'static str;
    /// What a reload that changes the table does.
    const ON_RELOAD: SectionReload = SectionReload::NextRun;

    /// Problems beyond types: each is a key path inside the table and what to write instead.
    fn validate(&self) -> Vec<(KeyPath, String)> {
        Vec::new()
    }
}

/// A parsed table of any workload.
pub trait AnySection: Debug + Send + Sync {
    /// The table as its own type (see [`Sections::get`]).
    fn as_any(&self) -> &dyn Any;
    /// Whether `other` is the same table with the same values.
    fn same_as(&self, other: &dyn AnySection) -> bool;
    /// What a change of it does on reload.
    fn on_reload(&self) -> SectionReload;
    /// The table, shared, to downcast to its own type.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<S: Section> AnySection for S {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same_as(&self, other: &dyn AnySection) -> bool {
        other.as_any().downcast_ref::<S>() == Some(self)
    }
    fn on_reload(&self) -> SectionReload {
        S::ON_RELOAD
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// The workload tables of one config, by name. A table the file leaves out holds its defaults.
#[derive(Debug, Clone, Default)]
pub struct Sections(BTreeMap<&'static str, Arc<dyn AnySection>>);

impl Sections {
    /// Set the table `name`.
    pub fn insert(&mut self, name: &'static str, section: Arc<dyn AnySection>) {
        self.0.insert(name, section);
    }

    /// The table of type `S`: as written, or its defaults when the config has none.
    pub fn get<S: Section>(&self) -> Arc<S> {
        self.0
            .get(S::NAME)
            .and_then(|s| s.clone().into_any().downcast::<S>().ok())
            .unwrap_or_default()
    }

    /// Names of the tables that differ between `self` and `other`, with what the change does.
    pub fn changes(&self, other: &Sections) -> Vec<(&'static str, SectionReload)> {
        let names: std::collections::BTreeSet<_> = self.0.keys().chain(other.0.keys()).collect();
        names
            .into_iter()
            .filter_map(|name| match (self.0.get(name), other.0.get(name)) {
                (Some(a), Some(b)) if a.same_as(b.as_ref()) => None,
                (a, b) => a.or(b).map(|s| (*name, s.on_reload())),
            })
            .collect()
    }
}

impl PartialEq for Sections {
    fn eq(&self, other: &Self) -> bool {
        self.changes(other).is_empty()
    }
}

/// Parses one registered table out of the merged config: the table's value, and where problems
/// go.
pub type SectionLoader = fn(Option<Json>, &mut Problems) -> Option<Arc<dyn AnySection>>;

/// A registered table's type, as the config code sees it (made by
/// [`super::load::section_type`]): how to load it and its JSON Schema.
#[derive(Clone, Copy)]
pub struct SectionType {
    /// Parse and check the table.
    pub load: SectionLoader,
    /// The table's JSON Schema (its named parts go into the generator's definitions).
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}
