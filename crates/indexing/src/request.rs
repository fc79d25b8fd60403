//! The input of `RepoIndexingWorkflow` and its checks. The workflow takes its input as raw
//! payloads and checks it here before any activity: a malformed input (a wrong type, a missing
//! or unknown field, no input at all, a user name in the URL, a ref git would refuse, ...)
//! fails the run at once with a non-retryable [`INVALID_INPUT`] failure that names the field
//! and the rule, instead of a workflow task that Temporal retries forever. `worker-host index`
//! runs the same checks before it starts anything.
//!
//! The checks are about shape only: whether this host may clone from a local path or over
//! plain http is the host's `[indexing]` decision, made by the clone.
//!
//! Wire version [`VERSION`]: `{"version"?: 1, "repo_url": str, "ref"?: str, "repo_id"?: str,
//! "full"?: bool, "timeouts"?: {"heartbeat_seconds"?: int, "host_seconds"?: int}}`; `null`
//! stands for an absent optional field. New optional fields keep the version; removing a field
//! or changing its meaning bumps it.

use serde::Serialize;
use serde_json::{Map, Value};
use std::{collections::HashMap, fmt};
use temporalio_common::{data_converters::RawValue, protos::temporal::api::common::v1::Payload};

/// The input version this build writes and accepts.
pub const VERSION: u32 = 1;
/// Failure type of a workflow whose input is malformed.
pub const INVALID_INPUT: &str = "InvalidInput";

/// Longest `repo_url`, in bytes.
const MAX_URL: usize = 2048;
/// Longest `ref`, in bytes.
const MAX_REF: usize = 255;
/// Longest `repo_id`, in bytes (its characters are ASCII).
const MAX_REPO_ID: usize = 256;
/// Bounds of each timeout, in seconds: 1 s to 24 h.
const TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 1..=86_400;
/// Schemes a `repo_url` may have (`http` and `file` only where the host allows them).
const SCHEMES: [&str; 4] = ["https", "ssh", "http", "file"];

/// The input of `RepoIndexingWorkflow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexRequest {
    /// The input's wire version ([`VERSION`]).
    pub version: u32,
    /// `https://…`, `ssh://…`, `git@host:path`, or (when `[indexing] allow_local_repos`) an
    /// absolute local path or `file://` URL. No credentials: they come from the host's
    /// environment.
    pub repo_url: String,
    /// Branch, tag or commit; default: the remote's default branch.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The repository's id in the graph; default: derived from the URL
    /// (`github.com/owner/repo`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo_id: Option<String>,
    /// Parse and write everything, even when the last run's facts could be reused. Default
    /// `false`: only what changed since the last indexed commit is parsed and written.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
    /// Tuning of the run's timeouts; defaults fit production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<RunTimeouts>,
}

/// Timeouts of one run, in seconds (each 1 to 86,400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RunTimeouts {
    /// An activity that has not heartbeated for this long is presumed dead and retried.
    /// Default 30.
    pub heartbeat_seconds: u64,
    /// How long work routed to the host holding the clone may wait for that host before the run
    /// starts over from the clone on another host. Default 300.
    pub host_seconds: u64,
}

impl Default for RunTimeouts {
    fn default() -> Self {
        Self {
            heartbeat_seconds: 30,
            host_seconds: 300,
        }
    }
}

/// One broken rule: the field (`repo_url`, `timeouts.host_seconds`, or `input` for the whole)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub rule: String,
}

/// Why an input was refused: every broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput(pub Vec<Problem>);

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid input: ")?;
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "`{}` {}", p.field, p.rule)?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidInput {}

/// Collects problems while an input is read.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, field: &str, rule: impl Into<String>) {
        self.0.push(Problem {
            field: field.to_owned(),
            rule: rule.into(),
        });
    }

    fn into_result<T>(self, value: T) -> Result<T, InvalidInput> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(InvalidInput(self.0))
        }
    }
}

impl IndexRequest {
    /// A request for `repo_url` with every default.
    pub fn new(repo_url: impl Into<String>) -> Self {
        Self {
            version: VERSION,
            repo_url: repo_url.into(),
            reference: None,
            repo_id: None,
            full: false,
            timeouts: None,
        }
    }

    /// The request the workflow was started with: exactly one JSON payload (or `null`) holding
    /// a valid input.
    pub fn from_raw(raw: &RawValue) -> Result<Self, InvalidInput> {
        Self::from_json(&json_of(raw)?)
    }

    /// The request `value` holds, if it is a valid input.
    pub fn from_json(value: &Value) -> Result<Self, InvalidInput> {
        let mut problems = Problems::default();
        let Some(fields) = value.as_object() else {
            problems.add(
                "input",
                format!(
                    "must be a JSON object like {{\"repo_url\": \"https://github.com/owner/repo\"}}, not {}",
                    kind_of(value)
                ),
            );
            return problems.into_result(Self::new(""));
        };
        for name in fields.keys() {
            if !matches!(
                name.as_str(),
                "version" | "repo_url" | "ref" | "repo_id" | "full" | "timeouts"
            ) {
                problems.add(
                    name,
                    "is not a field of the input (version, repo_url, ref, repo_id, full, timeouts)",
                );
            }
        }
        let version = match present(fields, "version") {
            None => Some(VERSION),
            Some(v) => integer(v, "version", &mut problems).and_then(|n| u32::try_from(n).ok()),
        };
        let request = Self {
            version: version.unwrap_or(VERSION),
            repo_url: match present(fields, "repo_url") {
                None => {
                    problems.add("repo_url", "is required");
                    String::new()
                }
                Some(v) => string(v, "repo_url", &mut problems).unwrap_or_default(),
            },
            reference: present(fields, "ref").and_then(|v| string(v, "ref", &mut problems)),
            repo_id: present(fields, "repo_id").and_then(|v| string(v, "repo_id", &mut problems)),
            full: match present(fields, "full") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(v) => {
                    problems.add("full", format!("must be true or false, not {}", kind_of(v)));
                    false
                }
            },
            timeouts: present(fields, "timeouts").and_then(|v| timeouts(v, &mut problems)),
        };
        if problems.0.is_empty() {
            request.rules(&mut problems);
        }
        problems.into_result(request)
    }

    /// Check the values of a request built in code (the CLI's): the same rules as
    /// [`Self::from_json`] after the types.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let mut problems = Problems::default();
        self.rules(&mut problems);
        problems.into_result(())
    }

    /// The request as the one JSON payload the workflow takes.
    pub fn to_raw(&self) -> RawValue {
        let data = serde_json::to_vec(self).unwrap_or_default();
        RawValue::new(vec![Payload {
            metadata: HashMap::from([(ENCODING.to_owned(), JSON.as_bytes().to_vec())]),
            data,
            ..Payload::default()
        }])
    }

    /// The timeouts after the defaults.
    pub fn timeouts(&self) -> RunTimeouts {
        self.timeouts.unwrap_or_default()
    }

    fn rules(&self, problems: &mut Problems) {
        if self.version != VERSION {
            problems.add(
                "version",
                format!("must be {VERSION} (the input version this host reads)"),
            );
        }
        if let Err(rule) = check_url(&self.repo_url) {
            problems.add("repo_url", rule);
        }
        if let Some(reference) = &self.reference
            && let Err(rule) = check_ref(reference)
        {
            problems.add("ref", rule);
        }
        if let Some(repo_id) = &self.repo_id
            && let Err(rule) = check_repo_id(repo_id)
        {
            problems.add("repo_id", rule);
        }
        let t = self.timeouts();
        for (field, seconds) in [
            ("timeouts.heartbeat_seconds", t.heartbeat_seconds),
            ("timeouts.host_seconds", t.host_seconds),
        ] {
            if !TIMEOUT_RANGE.contains(&seconds) {
                problems.add(
                    field,
                    format!("must be 1 to 86400 seconds (1 s to 24 h), not {seconds}"),
                );
            }
        }
    }
}

const ENCODING: &str = "encoding";
const JSON: &str = "json/plain";
const NULL: &str = "binary/null";

/// The one JSON value of `raw`: a `json/plain` payload, or `null` for a `binary/null` one.
fn json_of(raw: &RawValue) -> Result<Value, InvalidInput> {
    let refuse = |rule: String| {
        Err(InvalidInput(vec![Problem {
            field: "input".into(),
            rule,
        }]))
    };
    let [payload] = raw.payloads.as_slice() else {
        return refuse(format!(
            "must be one JSON object, not {} arguments",
            raw.payloads.len()
        ));
    };
    let encoding = payload.metadata.get(ENCODING).map(Vec::as_slice);
    if encoding == Some(NULL.as_bytes()) {
        return Ok(Value::Null);
    }
    if encoding != Some(JSON.as_bytes()) {
        return refuse(format!(
            "must be JSON (encoding {JSON}), not {}",
            encoding.map_or("none".into(), String::from_utf8_lossy)
        ));
    }
    serde_json::from_slice(&payload.data).or_else(|e| refuse(format!("is not valid JSON: {e}")))
}

/// The field `name` unless absent or `null`.
fn present<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).filter(|v| !v.is_null())
}

fn string(v: &Value, field: &str, problems: &mut Problems) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        other => {
            problems.add(field, format!("must be a string, not {}", kind_of(other)));
            None
        }
    }
}

fn integer(v: &Value, field: &str, problems: &mut Problems) -> Option<u64> {
    let n = v.as_u64();
    if n.is_none() {
        problems.add(
            field,
            format!("must be a whole number ≥ 0, not {}", kind_of(v)),
        );
    }
    n
}

fn timeouts(v: &Value, problems: &mut Problems) -> Option<RunTimeouts> {
    let Some(fields) = v.as_object() else {
        problems.add(
            "timeouts",
            format!(
                "must be an object like {{\"heartbeat_seconds\": 30, \"host_seconds\": 300}}, not {}",
                kind_of(v)
            ),
        );
        return None;
    };
    for name in fields.keys() {
        if !matches!(name.as_str(), "heartbeat_seconds" | "host_seconds") {
            problems.add(
                &format!("timeouts.{name}"),
                "is not a timeout (heartbeat_seconds, host_seconds)",
            );
        }
    }
    let mut t = RunTimeouts::default();
    for (name, slot) in [
        ("heartbeat_seconds", &mut t.heartbeat_seconds),
        ("host_seconds", &mut t.host_seconds),
    ] {
        if let Some(v) = present(fields, name)
            && let Some(n) = integer(v, &format!("timeouts.{name}"), problems)
        {
            *slot = n;
        }
    }
    Some(t)
}

/// A JSON value's kind, with short values shown (never a URL: it may hold a secret).
fn kind_of(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// `value` quoted for a message, cut to 64 characters.
fn quoted(value: &str) -> String {
    let cut: String = value.chars().take(64).collect();
    if cut.len() < value.len() {
        format!("`{cut}…`")
    } else {
        format!("`{cut}`")
    }
}

/// Not empty (else the rule ends with `if_empty`) and at most `max` bytes.
fn sized(value: &str, max: usize, if_empty: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("must not be empty{if_empty}"));
    }
    if value.len() > max {
        return Err(format!("must be at most {max} bytes, not {}", value.len()));
    }
    Ok(())
}

/// The shape of a repository URL or path; never quotes the URL (it may hold a secret).
fn check_url(url: &str) -> Result<(), String> {
    sized(url, MAX_URL, "")?;
    if url.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if url.starts_with('/') || url.starts_with("./") || url.starts_with("../") {
        return Ok(()); // a local path: the host decides whether it may clone from one
    }
    if url.chars().any(char::is_whitespace) {
        return Err("must not contain whitespace (only a local path may)".into());
    }
    if url.contains("://") {
        return check_scheme_url(url);
    }
    check_scp_like(url)
}

fn check_scheme_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("is not a valid URL ({e})"))?;
    let scheme = parsed.scheme();
    if !SCHEMES.contains(&scheme) {
        return Err(format!(
            "has the scheme `{scheme}`; use https or ssh (http and file only where the host \
             allows them)"
        ));
    }
    if parsed.password().is_some() || (!parsed.username().is_empty() && scheme != "ssh") {
        return Err(
            "must not hold a user name or password: credentials come from the host's \
             environment (WORKER_HOST_GIT_TOKEN, WORKER_HOST_GIT_SSH_KEY), never the input"
                .into(),
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    if scheme != "file" && parsed.host_str().is_none_or(str::is_empty) {
        return Err("names no host".into());
    }
    Ok(())
}

/// git's `[user@]host:path` form of ssh.
fn check_scp_like(url: &str) -> Result<(), String> {
    let form = "must be https://host/owner/repo, ssh://host/path, user@host:path or an \
                absolute local path";
    let Some((left, path)) = url.split_once(':') else {
        return Err(form.into());
    };
    let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
    let name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    let user_ok = left.rsplit_once('@').is_none_or(|(u, _)| name(u));
    if !name(host) || !user_ok || path.trim_matches('/').is_empty() {
        return Err(form.into());
    }
    if path.contains('@') {
        return Err("must not hold a password".into());
    }
    Ok(())
}

/// git's rules for ref names (`git check-ref-format`), applied to a branch, tag, full ref or
/// commit id, plus a length limit and no leading `-`.
fn check_ref(reference: &str) -> Result<(), String> {
    let broken = |why: &str| {
        Err(format!(
            "{} is not a valid git ref: {why}",
            quoted(reference)
        ))
    };
    sized(reference, MAX_REF, " (leave it out for the default branch)")?;
    if reference.starts_with('-') {
        return broken("it starts with `-`");
    }
    if let Some(c) = reference
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(*c))
    {
        return broken(&format!("it contains {c:?}"));
    }
    for bad in ["..", "@{", "//"] {
        if reference.contains(bad) {
            return broken(&format!("it contains `{bad}`"));
        }
    }
    if reference == "@" {
        return broken("it is `@`");
    }
    if reference.starts_with('/') || reference.ends_with('/') || reference.ends_with('.') {
        return broken("it starts or ends with `/`, or ends with `.`");
    }
    if reference
        .split('/')
        .any(|c| c.starts_with('.') || c.ends_with(".lock"))
    {
        return broken("a component starts with `.` or ends with `.lock`");
    }
    Ok(())
}

/// 1 to 256 bytes of ASCII letters, digits and `.` `_` `-` `/` `:` `@` `+`.
fn check_repo_id(id: &str) -> Result<(), String> {
    sized(id, MAX_REPO_ID, " (leave it out to derive it from the URL)")?;
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-/:@+".contains(*c)))
    {
        return Err(format!(
            "{} has {c:?}; use ASCII letters, digits and . _ - / : @ +",
            quoted(id)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields_of(input: Value) -> Vec<String> {
        match IndexRequest::from_json(&input) {
            Ok(r) => panic!("accepted {input}: {r:?}"),
            Err(e) => e.0.into_iter().map(|p| p.field).collect(),
        }
    }

    #[test]
    fn documented_inputs_are_accepted() {
        for input in [
            json!({"repo_url": "https://github.com/owner/repo", "ref": "main"}),
            json!({"repo_url": "https://github.com/owner/repo.git", "ref": null, "repo_id": null}),
            json!({"repo_url": "ssh://git@github.com/owner/repo.git", "ref": "v2.1"}),
            json!({"repo_url": "git@github.com:owner/repo.git", "ref": "refs/tags/v1"}),
            json!({"repo_url": "/srv/git/my repo", "repo_id": "local/srv:x@1+2", "full": true}),
            json!({"repo_url": "file:///srv/git/app", "ref": "0123abcd"}),
            json!({"repo_url": "http://mirror.local/o/r", "ref": "feature/x-1.2"}),
            json!({"version": 1, "repo_url": "./repo",
                   "timeouts": {"heartbeat_seconds": 3, "host_seconds": 86400}}),
        ] {
            let request =
                IndexRequest::from_json(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let again = serde_json::to_value(&request).expect("json");
            assert_eq!(IndexRequest::from_json(&again), Ok(request), "{again}");
        }
    }

    #[test]
    fn each_malformed_input_names_its_field() {
        for (input, field) in [
            (json!("https://github.com/o/r"), "input"),
            (json!(null), "input"),
            (json!({"repo_url": 5}), "repo_url"),
            (json!({"ref": "main"}), "repo_url"),
            (
                json!({"repo_url": "https://h/o/r", "branch": "x"}),
                "branch",
            ),
            (
                json!({"repo_url": "https://tok3n@github.com/o/r"}),
                "repo_url",
            ),
            (
                json!({"repo_url": "https://u:p@github.com/o/r"}),
                "repo_url",
            ),
            (
                json!({"repo_url": "ssh://git:pw@github.com/o/r"}),
                "repo_url",
            ),
            (json!({"repo_url": "ftp://example.com/r.git"}), "repo_url"),
            (json!({"repo_url": "https://h/o/r?token=x"}), "repo_url"),
            (json!({"repo_url": "garbage"}), "repo_url"),
            (json!({"repo_url": ""}), "repo_url"),
            (json!({"repo_url": "https://h/o/r", "ref": "a..b"}), "ref"),
            (json!({"repo_url": "https://h/o/r", "ref": "-x"}), "ref"),
            (json!({"repo_url": "https://h/o/r", "ref": "x.lock"}), "ref"),
            (json!({"repo_url": "https://h/o/r", "ref": "a b"}), "ref"),
            (
                json!({"repo_url": "https://h/o/r", "ref": "x".repeat(300)}),
                "ref",
            ),
            (json!({"repo_url": "https://h/o/r", "ref": 7}), "ref"),
            (
                json!({"repo_url": "https://h/o/r", "repo_id": "x".repeat(257)}),
                "repo_id",
            ),
            (
                json!({"repo_url": "https://h/o/r", "repo_id": "a;drop"}),
                "repo_id",
            ),
            (json!({"repo_url": "https://h/o/r", "full": "yes"}), "full"),
            (
                json!({"repo_url": "https://h/o/r", "timeouts": 5}),
                "timeouts",
            ),
            (
                json!({"repo_url": "https://h/o/r", "timeouts": {"heartbeat_seconds": 0}}),
                "timeouts.heartbeat_seconds",
            ),
            (
                json!({"repo_url": "https://h/o/r", "timeouts": {"host_seconds": 8_640_000}}),
                "timeouts.host_seconds",
            ),
            (
                json!({"repo_url": "https://h/o/r", "timeouts": {"host_seconds": -1}}),
                "timeouts.host_seconds",
            ),
            (
                json!({"repo_url": "https://h/o/r", "timeouts": {"x": 1}}),
                "timeouts.x",
            ),
            (
                json!({"repo_url": "https://h/o/r", "version": 2}),
                "version",
            ),
        ] {
            assert_eq!(fields_of(input.clone()), [field], "{input}");
        }
    }

    #[test]
    fn messages_never_quote_the_url() {
        let err = IndexRequest::from_json(&json!({"repo_url": "https://s3cr3t@h/o/r"}))
            .expect_err("userinfo");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().contains("`repo_url`"), "{err}");
    }

    #[test]
    fn raw_payloads_other_than_one_json_value_are_refused() {
        let none = RawValue::new(vec![]);
        assert!(IndexRequest::from_raw(&none).is_err());
        let binary = RawValue::new(vec![Payload {
            metadata: HashMap::from([(ENCODING.to_owned(), b"binary/plain".to_vec())]),
            data: b"x".to_vec(),
            ..Payload::default()
        }]);
        let err = IndexRequest::from_raw(&binary).expect_err("binary");
        assert_eq!(err.0[0].field, "input");
        let ok = IndexRequest::new("https://github.com/o/r");
        assert_eq!(IndexRequest::from_raw(&ok.to_raw()), Ok(ok));
    }
}
