//! Loading `workers.toml`: Temporal's client config profile, then the file, then environment
//! overrides, merged through figment (a later layer wins), then checked in one pass that collects
//! every problem instead of stopping at the first.
//!
//! Precedence, lowest first: the profile ([`super::profile`]) < `workers.toml` <
//! `TEMPORAL_ADDRESS` / `TEMPORAL_NAMESPACE` / `TEMPORAL_PROFILE` < `WORKER_HOST_<SECTION>__<KEY>`.

use super::{
    Catalog, HostConfig,
    error::{ConfigError, ConfigErrors, Location},
    key_path::{KeyPath, Problems, Segment, Target},
    profile::{self, TemporalProfile},
    section::{AnySection, Section, SectionLoader, SectionType, Sections},
    source_map::SourceMap,
    validate,
};
use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use std::path::Path;
use std::sync::Arc;

/// Prefix of the host's own environment overrides (`WORKER_HOST_HOST__DATA_DIR`, ...).
pub const ENV_PREFIX: &str = "WORKER_HOST_";

/// Temporal's own variables, honoured as overrides of `[temporal]`.
const TEMPORAL_VARS: [(&str, &str); 3] = [
    ("TEMPORAL_ADDRESS", "temporal.address"),
    ("TEMPORAL_NAMESPACE", "temporal.namespace"),
    ("TEMPORAL_PROFILE", "temporal.profile"),
];

/// Read, merge and check the config at `path`. Either a config with no problem, or all of them.
pub fn load(path: &Path, catalog: &dyn Catalog) -> Result<HostConfig, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| whole_file(path, format!("cannot read the config file: {e}")))?;
    parse(path, &text, catalog)
}

/// For commands that only talk to Temporal (`index`, `status`, ...): the config at `path`, or,
/// when there is no file there, the defaults with Temporal's profile and the environment
/// applied, so such commands run from any directory.
pub fn load_or_default(path: &Path, catalog: &dyn Catalog) -> Result<HostConfig, ConfigErrors> {
    if path.exists() {
        load(path, catalog)
    } else {
        parse(path, "", catalog)
    }
}

/// Where a merged value came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    File,
    Environment,
    Profile,
}

/// Check the config text as if it were the file at `path` (environment overrides included).
pub fn parse(path: &Path, text: &str, catalog: &dyn Catalog) -> Result<HostConfig, ConfigErrors> {
    let doc = toml_edit::Document::parse(text.to_owned()).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = position_in(text, offset);
        ConfigErrors(vec![ConfigError {
            location: Location::File {
                path: path.to_owned(),
                line,
                column,
            },
            key: String::new(),
            message: format!("TOML syntax error: {}", e.message().trim()),
        }])
    })?;
    let map = SourceMap::new(path, doc);

    let above_profile = |base: Figment| {
        base.merge(Toml::string(text))
            .merge(Env::raw().filter_map(|k| {
                TEMPORAL_VARS
                    .iter()
                    .find(|(var, _)| k == *var)
                    .map(|(_, key)| (*key).into())
            }))
            // Only WORKER_HOST_<SECTION>__<KEY>: other WORKER_HOST_* variables
            // (WORKER_HOST_CONFIG) are not config keys.
            .merge(
                Env::prefixed(ENV_PREFIX)
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            )
    };
    let mut problems = Problems::new();
    // The profile is named by the layers above it; a name that is not a string is reported
    // with the other keys' types below.
    let profile_name = above_profile(Figment::new())
        .extract_inner::<String>("temporal.profile")
        .ok();
    let profile_key = KeyPath::default().key("temporal").key("profile");
    let profile = profile::load(profile_name.as_deref()).unwrap_or_else(|message| {
        let target = if profile_name.is_some() {
            Target::Value
        } else {
            Target::Key
        };
        problems.push((profile_key.clone(), target, message));
        TemporalProfile::default()
    });
    let figment = above_profile(Figment::from(&profile));
    let merged: figment::value::Value = figment.extract().map_err(|e| {
        ConfigErrors(vec![ConfigError {
            location: Location::Environment {
                path: path.to_owned(),
            },
            key: e.path.join("."),
            message: e.kind.to_string(),
        }])
    })?;
    let mut json = serde_json::to_value(&merged)
        .map_err(|e| whole_file(path, format!("unsupported value: {e}")))?;

    let source_of = |p: &KeyPath| {
        let keys: Option<Vec<&str>> =
            p.0.iter()
                .map(|s| match s {
                    Segment::Key(k) => Some(k.as_str()),
                    Segment::Index(_) => None,
                })
                .collect();
        match keys.and_then(|k| figment.find_metadata(&k.join("."))) {
            Some(m) if m.name == profile::SOURCE_NAME => Source::Profile,
            Some(m) if !m.name.contains("TOML") => Source::Environment,
            _ => Source::File,
        }
    };
    let mut broken_entries = Vec::new();
    // Workload tables are taken out first: the host's own schema does not know them.
    let tables: Vec<(&'static str, SectionLoader, Option<Json>)> = catalog
        .sections()
        .into_iter()
        .map(|(name, section)| {
            let value = json.as_object_mut().and_then(|m| m.remove(name));
            (name, section.load, value)
        })
        .collect();
    let mut config: Option<HostConfig> = deserialize_collecting(
        &mut json,
        &KeyPath::default(),
        &mut problems,
        &mut broken_entries,
    );
    let mut sections = Sections::default();
    for (name, loader, value) in tables {
        if let Some(section) = loader(value, &mut problems) {
            sections.insert(name, section);
        }
    }
    if let Some(config) = &mut config {
        config.sections = sections;
        config.temporal.from_profile = profile.secrets.clone();
        validate::check(config, catalog, &broken_entries, &mut problems);
    }
    if problems.is_empty()
        && let Some(config) = config
    {
        return Ok(config);
    }
    let mut errors: Vec<ConfigError> = problems
        .into_iter()
        .map(|(key, target, message)| ConfigError {
            location: match source_of(&key) {
                // A missing profile named in the environment: its key has no line either.
                Source::Environment => Location::Environment {
                    path: path.to_owned(),
                },
                Source::Profile => Location::Profile {
                    path: path.to_owned(),
                    profile: profile.description.clone(),
                },
                Source::File => map.locate(&key, target),
            },
            key: key.to_string(),
            message,
        })
        .collect();
    errors.sort_by_key(|e| match &e.location {
        Location::File { line, column, .. } => (0, *line, *column),
        Location::Environment { .. } => (1, 0, 0),
        Location::Profile { .. } => (2, 0, 0),
    });
    errors.dedup();
    Err(ConfigErrors(errors))
}

/// A problem with the file as a whole, reported at its start.
fn whole_file(path: &Path, message: String) -> ConfigErrors {
    ConfigErrors(vec![ConfigError {
        location: Location::File {
            path: path.to_owned(),
            line: 1,
            column: 1,
        },
        key: String::new(),
        message,
    }])
}

fn position_in(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// How to load the workload table `S` and its schema, for a registry to hand to [`load`].
pub fn section_type<S: Section>() -> SectionType {
    SectionType {
        load: load_section::<S>,
        schema: |generator| generator.subschema_for::<S>(),
    }
}

fn load_section<S: Section>(
    value: Option<Json>,
    problems: &mut Problems,
) -> Option<Arc<dyn AnySection>> {
    let prefix = KeyPath::default().key(S::NAME);
    let mut json = value.unwrap_or_else(|| Json::Object(Default::default()));
    let section: S = deserialize_collecting(&mut json, &prefix, problems, &mut Vec::new())?;
    problems.extend(
        section
            .validate()
            .into_iter()
            .map(|(key, message)| (prefix.join(&key), Target::Value, message)),
    );
    Some(Arc::new(section))
}

/// Deserialize `json` (the table at `prefix`), recording every unknown key and every badly
/// typed value. A bad value is recorded, removed, and deserialization tried again, so one
/// mistake never hides the next. Entries of `[[workers]]` that are not tables are replaced by
/// empty ones and listed in `broken` so that later checks skip them.
fn deserialize_collecting<T: DeserializeOwned>(
    json: &mut Json,
    prefix: &KeyPath,
    problems: &mut Problems,
    broken: &mut Vec<usize>,
) -> Option<T> {
    // Each round removes one bad value, so the number of values bounds the rounds.
    for _ in 0..=count_values(json) {
        let mut unknown = Vec::new();
        let mut track = serde_path_to_error::Track::new();
        let result = {
            let de = serde_path_to_error::Deserializer::new(&*json, &mut track);
            serde_ignored::deserialize(de, |p| unknown.push(ignored_path(&p)))
        };
        let result: Result<T, _> = result;
        match result {
            Ok(config) => {
                problems.extend(unknown.into_iter().map(|p| {
                    (
                        prefix.join(&p),
                        Target::Key,
                        "unknown key (check its spelling and section)".to_owned(),
                    )
                }));
                return Some(config);
            }
            Err(e) => {
                let path = error_path(&track.path());
                problems.push((prefix.join(&path), Target::Value, describe(&e.to_string())));
                if !remove(json, &path, broken) {
                    return None;
                }
            }
        }
    }
    None
}

fn count_values(json: &Json) -> usize {
    match json {
        Json::Object(m) => 1 + m.values().map(count_values).sum::<usize>(),
        Json::Array(a) => 1 + a.iter().map(count_values).sum::<usize>(),
        _ => 1,
    }
}

/// Serde's messages name Rust types; say what a config author writes instead.
fn describe(message: &str) -> String {
    tables_not_structs(message)
        .replace("a sequence", "a list")
        .replace("sequence", "list")
        .replace("a map", "a table")
        .replace("u32", "a whole number")
        .replace("i64", "a whole number")
        .replace("f64", "a number")
        .replace(
            "expected a duration",
            "expected a duration such as \"30s\" or \"2m\"",
        )
}

/// `struct TlsSettings` (any Rust struct name) → `a table`.
fn tables_not_structs(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("struct ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "struct ".len()..];
        let name_len = after
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(after.len());
        out.push_str(if name_len > 0 { "a table" } else { "struct " });
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> KeyPath {
    use serde_ignored::Path as P;
    let mut out = match p {
        P::Root => return KeyPath::default(),
        P::Seq { parent, .. }
        | P::Map { parent, .. }
        | P::Some { parent }
        | P::NewtypeStruct { parent }
        | P::NewtypeVariant { parent } => ignored_path(parent),
    };
    match p {
        P::Seq { index, .. } => out = out.index(*index),
        P::Map { key, .. } => out = out.key(key),
        _ => {}
    }
    out
}

fn error_path(p: &serde_path_to_error::Path) -> KeyPath {
    use serde_path_to_error::Segment as S;
    KeyPath(
        p.iter()
            .filter_map(|s| match s {
                S::Seq { index } => Some(Segment::Index(*index)),
                S::Map { key } => Some(Segment::Key(key.clone())),
                S::Enum { .. } | S::Unknown => None,
            })
            .collect(),
    )
}

/// Take the bad value at `path` out of `json` so the next round can go on. Returns false when
/// nothing could be removed (the root itself is bad).
fn remove(json: &mut Json, path: &KeyPath, broken: &mut Vec<usize>) -> bool {
    let Some((last, parents)) = path.0.split_last() else {
        return false;
    };
    let Some(parent) = walk_mut(json, parents) else {
        return false;
    };
    match (last, parent) {
        (Segment::Key(k), Json::Object(m)) => m.remove(k).is_some(),
        // An entry of [[workers]] that is not a table: keep its place so indexes stay right.
        (Segment::Index(i), Json::Array(a)) if parents == [Segment::Key("workers".into())] => {
            broken.push(*i);
            a.get_mut(*i)
                .map(|v| *v = Json::Object(Default::default()))
                .is_some()
        }
        // A bad element of any other list: drop the whole list.
        (Segment::Index(_), Json::Array(_)) => remove(json, &KeyPath(parents.to_vec()), broken),
        _ => false,
    }
}

fn walk_mut<'a>(json: &'a mut Json, path: &[Segment]) -> Option<&'a mut Json> {
    path.iter().try_fold(json, |node, seg| match (seg, node) {
        (Segment::Key(k), Json::Object(m)) => m.get_mut(k),
        (Segment::Index(i), Json::Array(a)) => a.get_mut(*i),
        _ => None,
    })
}
