//! Loading `workers.toml`: the file merged with environment overrides through figment, then
//! checked in one pass that collects every problem instead of stopping at the first.

use super::{
    HostConfig,
    error::{ConfigError, ConfigErrors, Location},
    source_map::{KeyPath, Segment, SourceMap, Target},
    validate,
};
use crate::registry::Registry;
use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde_json::Value as Json;
use std::path::Path;

/// Prefix of the host's own environment overrides (`WORKER_HOST_HOST__DATA_DIR`, ...).
pub const ENV_PREFIX: &str = "WORKER_HOST_";

/// Temporal's own variables, honoured as overrides of `[temporal]`.
const TEMPORAL_VARS: [(&str, &str); 2] = [
    ("TEMPORAL_ADDRESS", "temporal.address"),
    ("TEMPORAL_NAMESPACE", "temporal.namespace"),
];

/// Read, merge and check the config at `path`. Either a config with no problem, or all of them.
pub fn load(path: &Path, registry: &Registry) -> Result<HostConfig, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| whole_file(path, format!("cannot read the config file: {e}")))?;
    parse(path, &text, registry)
}

/// Check the config text as if it were the file at `path` (environment overrides included).
pub fn parse(path: &Path, text: &str, registry: &Registry) -> Result<HostConfig, ConfigErrors> {
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

    let figment = Figment::new()
        .merge(Toml::string(text))
        .merge(Env::raw().filter_map(|k| {
            TEMPORAL_VARS
                .iter()
                .find(|(var, _)| k == *var)
                .map(|(_, key)| (*key).into())
        }))
        // Only WORKER_HOST_<SECTION>__<KEY>: other WORKER_HOST_* variables (WORKER_HOST_CONFIG)
        // are not config keys.
        .merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
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

    let from_env = |p: &KeyPath| {
        let keys: Option<Vec<&str>> =
            p.0.iter()
                .map(|s| match s {
                    Segment::Key(k) => Some(k.as_str()),
                    Segment::Index(_) => None,
                })
                .collect();
        keys.and_then(|k| figment.find_metadata(&k.join(".")))
            .is_some_and(|m| !m.name.contains("TOML"))
    };
    let mut problems: Vec<(KeyPath, Target, String)> = Vec::new();
    let mut broken_entries = Vec::new();
    let config = deserialize_collecting(&mut json, &mut problems, &mut broken_entries);
    if let Some(config) = &config {
        validate::check(config, registry, &broken_entries, &mut problems);
    }
    if problems.is_empty()
        && let Some(config) = config
    {
        return Ok(config);
    }
    let mut errors: Vec<ConfigError> = problems
        .into_iter()
        .map(|(key, target, message)| ConfigError {
            location: map.locate(&key, target, from_env(&key)),
            key: key.to_string(),
            message,
        })
        .collect();
    errors.sort_by_key(|e| match &e.location {
        Location::File { line, column, .. } => (0, *line, *column),
        Location::Environment { .. } => (1, 0, 0),
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

/// Deserialize the whole config, recording every unknown key and every badly typed value.
/// A bad value is recorded, removed, and deserialization tried again, so one mistake never
/// hides the next. Entries of `[[workers]]` that are not tables are replaced by empty ones and
/// listed in `broken` so that later checks skip them.
fn deserialize_collecting(
    json: &mut Json,
    problems: &mut Vec<(KeyPath, Target, String)>,
    broken: &mut Vec<usize>,
) -> Option<HostConfig> {
    // Each round removes one bad value, so the number of values bounds the rounds.
    for _ in 0..=count_values(json) {
        let mut unknown = Vec::new();
        let mut track = serde_path_to_error::Track::new();
        let result = {
            let de = serde_path_to_error::Deserializer::new(&*json, &mut track);
            serde_ignored::deserialize(de, |p| unknown.push(ignored_path(&p)))
        };
        let result: Result<HostConfig, _> = result;
        match result {
            Ok(config) => {
                problems.extend(unknown.into_iter().map(|p| {
                    (
                        p,
                        Target::Key,
                        "unknown key (check its spelling and section)".to_owned(),
                    )
                }));
                return Some(config);
            }
            Err(e) => {
                let path = error_path(&track.path());
                problems.push((path.clone(), Target::Value, describe(&e.to_string())));
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
    message
        .replace("a sequence", "a list")
        .replace("sequence", "list")
        .replace("struct HostConfig", "a table")
        .replace("struct TemporalSettings", "a table")
        .replace("struct TlsSettings", "a table")
        .replace("struct HostSettings", "a table")
        .replace("struct WorkerEntry", "a table")
        .replace("a map", "a table")
        .replace("u32", "a whole number")
        .replace("i64", "a whole number")
        .replace("f64", "a number")
        .replace(
            "expected a duration",
            "expected a duration such as \"30s\" or \"2m\"",
        )
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
