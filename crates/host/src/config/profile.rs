//! Temporal's standard client config file (`temporal.toml`, which the `temporal` CLI and every
//! SDK read): the profile named by `[temporal] profile` or `TEMPORAL_PROFILE` (else the file's
//! `default` profile, when there is one) is the lowest layer of `[temporal]`, under
//! `workers.toml` and the environment. It is read with the SDK's envconfig loader, so Temporal's
//! other variables (`TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, `TEMPORAL_GRPC_META_*`) apply to it as
//! they do in every SDK.

use figment::{
    Metadata, Profile, Provider,
    providers::Serialized,
    value::{Dict, Map},
};
use serde_json::{Map as JsonMap, Value as Json, json};
use std::{collections::BTreeMap, fmt, path::PathBuf};
use temporalio_common::envconfig::{
    ClientConfigProfile, ConfigError, DataSource, LoadClientConfigOptions,
    LoadClientConfigProfileOptions, load_client_config, load_client_config_profile,
};

/// Name of the profile layer in figment's metadata (how [`super::load`] tells its values apart).
pub(crate) const SOURCE_NAME: &str = "Temporal client config profile";

/// What a profile gives that no key of `workers.toml` holds: secrets and PEM data stay out of
/// the host's file. Its `Debug` hides them.
#[derive(Clone, Default, PartialEq)]
pub struct ProfileSecrets {
    /// The profile's `api_key` (or `TEMPORAL_API_KEY`), used when `[temporal.tls] api_key_env`
    /// names none.
    pub api_key: Option<String>,
    /// Inline PEM client certificate (`client_cert_data`, `TEMPORAL_TLS_CLIENT_CERT_DATA`).
    pub client_cert: Option<Vec<u8>>,
    /// Inline PEM private key of the client certificate.
    pub client_key: Option<Vec<u8>>,
    /// Inline PEM CA of the server.
    pub server_ca_cert: Option<Vec<u8>>,
    /// gRPC headers (`grpc_meta`, `TEMPORAL_GRPC_META_*`) sent with every request.
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for ProfileSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let given = |b: bool| if b { "<set>" } else { "<none>" };
        f.debug_struct("ProfileSecrets")
            .field("api_key", &given(self.api_key.is_some()))
            .field("client_cert", &given(self.client_cert.is_some()))
            .field("client_key", &given(self.client_key.is_some()))
            .field("server_ca_cert", &given(self.server_ca_cert.is_some()))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A loaded profile: the `[temporal]` keys it sets, as a config layer, and its secrets.
#[derive(Debug, Default)]
pub struct TemporalProfile {
    /// `{ "temporal": { address, namespace, tls: { ... } } }`, only the keys the profile sets.
    layer: JsonMap<String, Json>,
    /// What has no key in `workers.toml`.
    pub secrets: ProfileSecrets,
    /// Which profile of which file, for messages.
    pub description: String,
}

impl Provider for TemporalProfile {
    fn metadata(&self) -> Metadata {
        Metadata::named(SOURCE_NAME)
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::defaults(&self.layer).data()
    }
}

/// Where Temporal's client config file is: `TEMPORAL_CONFIG_FILE`, else
/// `<config dir>/temporalio/temporal.toml` (`~/.config/temporalio/temporal.toml` on Linux).
pub fn config_file() -> String {
    std::env::var("TEMPORAL_CONFIG_FILE")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| {
            let base = std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
            Some(
                base.join("temporalio")
                    .join("temporal.toml")
                    .display()
                    .to_string(),
            )
        })
        .unwrap_or_else(|| "temporal.toml".to_owned())
}

/// Load the profile `name` (`None`: `TEMPORAL_PROFILE`, else `default` when the file has it)
/// with Temporal's variables applied. `Err` says what to fix, naming the file and its profiles.
pub fn load(name: Option<&str>) -> Result<TemporalProfile, String> {
    let file = config_file();
    let options = LoadClientConfigProfileOptions::builder()
        .maybe_config_file_profile(name.map(str::to_owned))
        .build();
    let profile = load_client_config_profile(options, None).map_err(|e| match e {
        ConfigError::ProfileNotFound(missing) => format!(
            "profile `{missing}` is not in Temporal's client config file {file} (TEMPORAL_CONFIG_FILE \
             names another); profiles there: {}",
            profile_names()
        ),
        other => format!("cannot use Temporal's client config file {file}: {other}"),
    })?;
    let description = format!(
        "profile `{}` of {file}",
        name.map(str::to_owned)
            .or_else(|| std::env::var("TEMPORAL_PROFILE").ok())
            .unwrap_or_else(|| "default".to_owned())
    );
    layer_of(profile, description)
}

fn profile_names() -> String {
    let names: Vec<String> = load_client_config(LoadClientConfigOptions::default(), None)
        .map(|c| {
            let mut names: Vec<String> = c.profiles.into_keys().collect();
            names.sort();
            names
        })
        .unwrap_or_default();
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

/// The profile as `[temporal]` keys (paths stay paths) and secrets (keys, inline PEM data).
fn layer_of(profile: ClientConfigProfile, description: String) -> Result<TemporalProfile, String> {
    let mut temporal = JsonMap::new();
    let mut secrets = ProfileSecrets {
        api_key: profile.api_key.clone(),
        headers: profile.grpc_meta.into_iter().collect(),
        ..Default::default()
    };
    if let Some(address) = &profile.address {
        // Temporal's files may write a scheme; `[temporal] address` is host:port.
        let bare = address
            .strip_prefix("https://")
            .or_else(|| address.strip_prefix("http://"))
            .unwrap_or(address);
        temporal.insert("address".into(), json!(bare.trim_end_matches('/')));
    }
    if let Some(namespace) = profile.namespace {
        temporal.insert("namespace".into(), json!(namespace));
    }
    // As every SDK decides: TLS when the profile has a TLS table that is not disabled, or an API
    // key and no TLS table.
    let use_tls = match &profile.tls {
        Some(t) => t.disabled != Some(true),
        None => profile.api_key.is_some(),
    };
    if use_tls {
        let mut tls = JsonMap::new();
        if let Some(t) = profile.tls {
            if t.disable_host_verification {
                return Err(format!(
                    "{description}: tls.disable_host_verification is not supported by the Rust \
                     SDK; trust the server's CA with server_ca_cert instead"
                ));
            }
            let sources = [
                ("client_cert", t.client_cert, &mut secrets.client_cert),
                ("client_key", t.client_key, &mut secrets.client_key),
                (
                    "server_ca_cert",
                    t.server_ca_cert,
                    &mut secrets.server_ca_cert,
                ),
            ];
            for (key, source, inline) in sources {
                match source {
                    Some(DataSource::Path(path)) => {
                        tls.insert(key.into(), json!(path));
                    }
                    Some(DataSource::Data(data)) => *inline = Some(data),
                    _ => {}
                }
            }
            if let Some(domain) = t.server_name {
                tls.insert("domain".into(), json!(domain));
            }
        }
        temporal.insert("tls".into(), Json::Object(tls));
    }
    let mut layer = JsonMap::new();
    if !temporal.is_empty() {
        layer.insert("temporal".into(), Json::Object(temporal));
    }
    Ok(TemporalProfile {
        layer,
        secrets,
        description,
    })
}
