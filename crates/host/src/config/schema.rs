//! The JSON Schema of `workers.toml` for editors (taplo / Even Better TOML complete keys, show
//! their docs and flag mistakes as you type): generated from the config types and from every
//! workload table the registry holds, so it never drifts from what the loader accepts.

use super::{Catalog, HostConfig};
use schemars::generate::SchemaSettings;
use serde_json::Value as Json;

/// The schema (JSON Schema draft 7) of a config that may use the tables of `catalog`.
pub fn json_schema(catalog: &dyn Catalog) -> Json {
    let mut generator = SchemaSettings::draft07().into_generator();
    // Tables first: their named parts land in the generator's definitions, which the root
    // schema then carries.
    let tables: Vec<(&str, Json)> = catalog
        .sections()
        .into_iter()
        .map(|(name, table)| (name, (table.schema)(&mut generator).to_value()))
        .collect();
    let mut root = generator.root_schema_for::<HostConfig>().to_value();
    if let Some(properties) = root.get_mut("properties").and_then(Json::as_object_mut) {
        for (name, schema) in tables {
            properties.insert(name.to_owned(), schema);
        }
    }
    close_tables(&mut root);
    root
}

/// The loader rejects unknown keys; say so to editors: every table with declared keys takes no
/// others.
fn close_tables(schema: &mut Json) {
    match schema {
        Json::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Json::Bool(false));
            }
            map.values_mut().for_each(close_tables);
        }
        Json::Array(items) => items.iter_mut().for_each(close_tables),
        _ => {}
    }
}
