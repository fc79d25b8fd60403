//! Checks that need the whole config or the registry: names, queues, limits that only make
//! sense together. Every problem is recorded; none stops the others from being found.

use super::{
    Catalog, HostConfig, Pollers, SlotSizing, WorkerEntry,
    key_path::{KeyPath, Problems, Target},
};
use std::{collections::HashMap, net::SocketAddr};

/// Record every problem of `config` into `problems`. Entries listed in `broken` were not tables
/// and have been reported already.
pub(crate) fn check(
    config: &HostConfig,
    registry: &dyn Catalog,
    broken: &[usize],
    problems: &mut Problems,
) {
    let root = KeyPath::default();
    if config.temporal.address.parse::<SocketAddr>().is_err()
        && !config
            .temporal
            .address
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    {
        problems.push((
            root.clone().key("temporal").key("address"),
            Target::Value,
            format!(
                "`{}` is not a host:port address (e.g. 127.0.0.1:7233)",
                config.temporal.address
            ),
        ));
    }
    if config.temporal.namespace.is_empty() {
        problems.push((
            root.clone().key("temporal").key("namespace"),
            Target::Value,
            "must not be empty".into(),
        ));
    }
    if let Some(tls) = &config.temporal.tls {
        let tls_path = root.clone().key("temporal").key("tls");
        let inline = &config.temporal.from_profile;
        let has_cert = tls.client_cert.is_some() || inline.client_cert.is_some();
        let has_key = tls.client_key.is_some() || inline.client_key.is_some();
        if has_cert != has_key {
            problems.push((
                tls_path.clone(),
                Target::Key,
                "client_cert and client_key go together: set both for mTLS, or neither".into(),
            ));
        }
        if let Some(var) = &tls.api_key_env
            && std::env::var_os(var).is_none()
        {
            problems.push((
                tls_path.key("api_key_env"),
                Target::Value,
                format!("environment variable {var} is not set (it should hold the API key)"),
            ));
        }
    }
    if config.host.listen.parse::<SocketAddr>().is_err() {
        problems.push((
            root.clone().key("host").key("listen"),
            Target::Value,
            format!(
                "`{}` is not an ip:port address (e.g. 127.0.0.1:9464)",
                config.host.listen
            ),
        ));
    }

    if let Some(deployment) = &config.deployment {
        let at = root.clone().key("deployment");
        if deployment.name.trim().is_empty() {
            problems.push((
                at.clone().key("name"),
                Target::Value,
                "must not be empty: the Worker Deployment's name".into(),
            ));
        }
        if deployment
            .build_id
            .as_deref()
            .is_some_and(|b| b.trim().is_empty())
        {
            problems.push((
                at.key("build_id"),
                Target::Value,
                "must not be empty; leave it out to use a hash of the executable".into(),
            ));
        }
    } else {
        for (i, entry) in config.workers.iter().enumerate() {
            if entry.versioning.is_some() && !broken.contains(&i) {
                problems.push((
                    root.clone().key("workers").index(i).key("versioning"),
                    Target::Value,
                    "needs a [deployment] table (name, build_id): versioning behaviours apply \
                     to versioned workers only"
                        .into(),
                ));
            }
        }
    }

    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, entry) in config.workers.iter().enumerate() {
        if broken.contains(&i) {
            continue;
        }
        let at = root.clone().key("workers").index(i);
        check_entry(entry, &at, registry, problems);
        if !entry.name.is_empty()
            && let Some(first) = names.insert(&entry.name, i)
        {
            problems.push((
                at.clone().key("name"),
                Target::Value,
                format!(
                    "duplicate entry name `{}` (workers[{first}] has it already): names must be unique",
                    entry.name
                ),
            ));
        }
    }
    check_shared_queues(config, broken, problems);
    check_resource_targets(config, broken, problems);
}

/// Resource-based entries share one controller, which samples the machine against one pair of
/// targets: every such entry must name the same.
fn check_resource_targets(config: &HostConfig, broken: &[usize], problems: &mut Problems) {
    let mut first: Option<(&str, f64, f64)> = None;
    for (i, e) in config.workers.iter().enumerate() {
        let Some(SlotSizing::Resource {
            target_cpu,
            target_mem,
            ..
        }) = e.slots
        else {
            continue;
        };
        if broken.contains(&i) {
            continue;
        }
        let (cpu, mem) = (target_cpu.get(), target_mem.get());
        match first {
            None => first = Some((&e.name, cpu, mem)),
            Some((name, c, m)) if (c, m) != (cpu, mem) => problems.push((
                KeyPath::default().key("workers").index(i).key("slots"),
                Target::Value,
                format!(
                    "resource-based entries share one controller: targets must match those of \
                     `{name}` (target_cpu = {c}, target_mem = {m}), got target_cpu = {cpu}, \
                     target_mem = {mem}"
                ),
            )),
            Some(_) => {}
        }
    }
}

fn check_entry(entry: &WorkerEntry, at: &KeyPath, registry: &dyn Catalog, problems: &mut Problems) {
    for (key, value) in [("name", &entry.name), ("task_queue", &entry.task_queue)] {
        if value.trim().is_empty() {
            problems.push((
                at.clone().key(key),
                Target::Value,
                format!("missing `{key}`: every [[workers]] entry needs one"),
            ));
        }
    }
    if entry.host_local && !entry.workflows.is_empty() {
        problems.push((
            at.clone().key("host_local"),
            Target::Value,
            "a host-local entry runs activities only: workflows on a queue of one host would \
             stop when that host does; move `workflows` to an entry without host_local"
                .into(),
        ));
    }
    if entry.workflows.is_empty() && entry.activities.is_empty() {
        problems.push((
            at.clone(),
            Target::Value,
            "runs nothing: list at least one name in `workflows` or `activities`".into(),
        ));
    }
    for (j, w) in entry.workflows.iter().enumerate() {
        if !registry.has_workflow(w) {
            problems.push((
                at.clone().key("workflows").index(j),
                Target::Value,
                format!(
                    "unknown workflow `{w}`; registered workflows: {}",
                    list(registry.workflow_names())
                ),
            ));
        }
    }
    for (j, a) in entry.activities.iter().enumerate() {
        if registry.resolve_activities(a).is_none() {
            problems.push((
                at.clone().key("activities").index(j),
                Target::Value,
                format!(
                    "unknown activity or activity set `{a}`; activity sets: {}; activities: {}",
                    list(registry.activity_set_names()),
                    list(registry.activity_names())
                ),
            ));
        }
    }
    if let Some(SlotSizing::Resource { min, max, .. }) = entry.slots {
        if min.get() > max.get() {
            problems.push((
                at.clone().key("slots"),
                Target::Value,
                format!(
                    "resource-based slots need min <= max (got min = {}, max = {})",
                    min.get(),
                    max.get()
                ),
            ));
        }
        for (key, set) in [
            (
                "max_concurrent_activities",
                entry.max_concurrent_activities.is_some(),
            ),
            (
                "max_concurrent_local_activities",
                entry.max_concurrent_local_activities.is_some(),
            ),
        ] {
            if set {
                problems.push((
                    at.clone().key(key),
                    Target::Key,
                    "resource-based `slots` size activity and local-activity slots: leave this \
                     out, or drop `slots` for a fixed count"
                        .into(),
                ));
            }
        }
    }
    match entry.pollers {
        Some(Pollers::Autoscaling { min, max, initial })
            if !(min.get() <= initial.get() && initial.get() <= max.get()) =>
        {
            problems.push((
                at.clone().key("pollers"),
                Target::Value,
                format!(
                    "autoscaling pollers need min <= initial <= max (got min = {}, initial = {}, max = {})",
                    min.get(),
                    initial.get(),
                    max.get()
                ),
            ));
        }
        Some(Pollers::Fixed(n))
            if n.get() < 2 && entry.cached_workflows() > 0 && !entry.workflows.is_empty() =>
        {
            problems.push((
                at.clone().key("pollers"),
                Target::Value,
                "must be at least 2 while workflows are cached (one sticky and one normal poll); \
                 raise it or set max_cached_workflows = 0"
                    .into(),
            ));
        }
        _ => {}
    }
}

/// One host runs at most one workflow worker and one activity worker per task queue: Temporal's
/// SDK refuses two workers with overlapping task types on the same queue in one process.
fn check_shared_queues(config: &HostConfig, broken: &[usize], problems: &mut Problems) {
    let mut by_queue: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in config.workers.iter().enumerate() {
        if !broken.contains(&i) && !e.task_queue.is_empty() {
            by_queue
                .entry(e.polled_queue("<host id>"))
                .or_default()
                .push(i);
        }
    }
    let mut queues: Vec<_> = by_queue.into_iter().filter(|(_, v)| v.len() > 1).collect();
    queues.sort();
    for (queue, idx) in queues {
        for (pos, &i) in idx.iter().enumerate() {
            let e = &config.workers[i];
            for &j in &idx[..pos] {
                let f = &config.workers[j];
                let both = |a: bool, b: bool| a && b;
                let clash = if both(!e.workflows.is_empty(), !f.workflows.is_empty()) {
                    Some("workflows")
                } else if both(!e.activities.is_empty(), !f.activities.is_empty()) {
                    Some("activities")
                } else {
                    None
                };
                if let Some(kind) = clash {
                    problems.push((
                        KeyPath::default().key("workers").index(i).key("task_queue"),
                        Target::Value,
                        format!(
                            "entries `{}` and `{}` both run {kind} on task queue `{queue}`: \
                             one host runs one worker per task type and queue; merge the two \
                             entries, or give the {kind} to only one of them",
                            f.name, e.name
                        ),
                    ));
                }
            }
        }
    }
}

fn list(v: Vec<&str>) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}
