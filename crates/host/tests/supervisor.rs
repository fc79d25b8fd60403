//! The supervisor in-process, behind a fake worker factory that records every build and stop:
//! start-up, the cases of a reload, `Unchanged`, workers that cannot be built, and a worker
//! that fails and is restarted with backoff while the others keep running.

mod common;

use common::*;
use std::{future::Future, rc::Rc, time::Duration};
use tokio::task::LocalSet;
use worker_host_core::{
    status::{EntryState, HostStatus},
    supervisor::{Applied, Rejection, ReloadOutcome, RestartBackoff, Supervisor},
};

/// Long enough for anything the supervisor does at once, even on a busy machine.
const LIMIT: Duration = Duration::from_secs(10);

/// Run `test` on a `LocalSet`, where the supervisor runs its workers.
async fn local(test: impl Future<Output = ()>) {
    LocalSet::new().run_until(test).await
}

/// A supervisor over a fake factory, with the factory's script and the status it reports to.
struct Fixture {
    supervisor: Supervisor,
    script: Rc<Script>,
    status: HostStatus,
}

impl Fixture {
    fn new(backoff: RestartBackoff) -> Self {
        let (factory, script, status) = FakeFactory::new();
        let supervisor = Supervisor::new(factory).with_restart_backoff(backoff);
        Self {
            supervisor,
            script,
            status,
        }
    }

    /// Apply `text` as the first config, and wait until the started entries run.
    async fn start(&mut self, text: &str) -> Applied {
        let applied = applied(self.supervisor.apply(config(text)));
        for name in &applied.started {
            self.wait_for_state(name, EntryState::Running, 0).await;
        }
        applied
    }

    /// Reload with `text` as the file.
    fn reload(&mut self, text: &str) -> ReloadOutcome {
        self.supervisor.reload(parse(text))
    }

    /// Names of the running config's entries.
    fn running(&self) -> Vec<String> {
        let workers = &self.supervisor.config().workers;
        workers.iter().map(|e| e.name.clone()).collect()
    }

    /// The state `/readyz` shows for `entry`, with its restarts.
    fn state_of(&self, entry: &str) -> (EntryState, u64) {
        let report = self.status.ready_report();
        let found = report.entries.iter().find(|e| e.name == entry);
        found.map_or_else(
            || panic!("no entry `{entry}` in {report:?}"),
            |e| (e.state, e.restarts),
        )
    }

    /// Wait until `entry` shows `state` with `restarts` restarts.
    async fn wait_for_state(&self, entry: &str, state: EntryState, restarts: u64) {
        let done = |_: &[Event]| self.state_of(entry) == (state, restarts);
        self.script.wait_for(LIMIT, done).await;
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new(RestartBackoff::default())
    }
}

#[tokio::test]
async fn start_up_is_the_difference_from_nothing() {
    local(async {
        let mut f = Fixture::default();
        let first = f
            .start(&(entry("a", "q-a", 1) + &entry("b", "q-b", 2)))
            .await;
        assert_eq!(first.generation, 1);
        assert_eq!(first.started, ["a", "b"]);
        assert!(first.replaced.is_empty() && first.stopped.is_empty() && first.failed.is_empty());
        assert_eq!(
            f.script.events(),
            [built("a", "q-a", 1), built("b", "q-b", 2)]
        );
        assert_eq!(f.supervisor.generation(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_reload_replaces_changed_entries_tunes_limits_starts_added_and_stops_removed() {
    local(async {
        let mut f = Fixture::default();
        f.start(
            &(entry("a", "q-a", 1)
                + &entry("b", "q-b", 1)
                + &entry("c", "q-c", 1)
                + &entry("e", "q-e", 1)),
        )
        .await;
        let before = f.script.events().len();

        let second = applied(f.reload(
            &(entry("a", "q-a2", 1)
                + &entry("b", "q-b", 4)
                + &entry("d", "q-d", 1)
                + &entry("e", "q-e", 1)),
        ));
        assert_eq!(second.generation, 2);
        assert_eq!(second.replaced, ["a"]);
        assert_eq!(second.tuned, ["b"], "a limit alone is tuned in place");
        assert_eq!(second.started, ["d"]);
        assert_eq!(second.stopped, ["c"]);
        assert_eq!(
            f.script.events_since(before),
            [stopped("c"), built("a", "q-a2", 1), built("d", "q-d", 1)],
            "the successor of `a` is built while the old worker still polls; `b` and `e` are \
             not touched"
        );
        // Make-before-break: the old worker of `a` stops once its successor polls.
        f.script
            .wait_for(LIMIT, |events| events[before..].contains(&stopped("a")))
            .await;
        assert_eq!(
            f.script.events_since(before).len(),
            4,
            "nothing else happened"
        );
        assert_eq!(f.running(), ["a", "b", "d", "e"]);
        assert_eq!(f.supervisor.config().workers[1].activity_slots(), 4);
    })
    .await;
}

#[tokio::test]
async fn the_same_file_again_is_unchanged_and_touches_nothing() {
    local(async {
        let mut f = Fixture::default();
        f.start(&entry("a", "q-a", 1)).await;
        let before = f.script.events();
        assert_eq!(
            f.reload(&entry("a", "q-a", 1)),
            ReloadOutcome::Unchanged { generation: 1 }
        );
        assert_eq!(f.script.events(), before);
        assert_eq!(f.supervisor.generation(), 1);
    })
    .await;
}

#[tokio::test]
async fn invalid_files_and_temporal_changes_are_rejected_and_the_running_config_stays() {
    local(async {
        let mut f = Fixture::default();
        let text = entry("a", "q-a", 1);
        f.start(&text).await;
        let before = f.script.events();

        let broken = text.replace(
            "max_concurrent_activities = 1",
            "max_concurrent_activities = 0",
        );
        let errors = parse(&broken).expect_err("0 slots is invalid");
        assert_eq!(
            f.reload(&broken),
            ReloadOutcome::Rejected {
                reason: Rejection::Invalid(errors)
            }
        );
        let moved = format!(
            "[temporal]\nnamespace = \"elsewhere\"\n{}",
            entry("a", "q-a", 2)
        );
        assert_eq!(
            f.reload(&moved),
            ReloadOutcome::Rejected {
                reason: Rejection::TemporalChanged
            }
        );
        assert_eq!(f.script.events(), before, "nothing was built or stopped");
        assert_eq!(f.supervisor.generation(), 1);
        assert_eq!(f.supervisor.config(), &config(&text));
    })
    .await;
}

#[tokio::test]
async fn an_entry_whose_worker_cannot_be_built_is_reported_and_the_others_run() {
    local(async {
        let mut f = Fixture::default();
        let first = f
            .start(&(entry("a", "q-a", 1) + &entry("bad", "unbuildable", 1)))
            .await;
        assert_eq!(first.started, ["a"]);
        assert_eq!(first.failed.len(), 1, "{first:?}");
        assert_eq!(first.failed[0].name, "bad");
        assert!(
            first.failed[0]
                .error
                .contains("no worker can poll `unbuildable`"),
            "{first:?}"
        );
        assert_eq!(f.state_of("bad").0, EntryState::Failed);
        let report = f.status.ready_report();
        let reason = report.reason.clone().unwrap_or_default();
        assert!(
            !report.ready && reason.contains("bad (failed)"),
            "{report:?}"
        );
        assert_eq!(f.running(), ["a"], "the running config holds what runs");

        // A fixed file starts it; `a` is left alone.
        let before = f.script.events().len();
        let fixed = applied(f.reload(&(entry("a", "q-a", 1) + &entry("bad", "q-bad", 1))));
        assert_eq!(fixed.started, ["bad"]);
        assert_eq!(f.script.events_since(before), [built("bad", "q-bad", 1)]);
    })
    .await;
}

#[tokio::test]
async fn a_changed_entry_whose_new_worker_cannot_be_built_keeps_its_previous_settings() {
    local(async {
        let mut f = Fixture::default();
        f.start(&entry("a", "q-a", 3)).await;
        let before = f.script.events().len();

        let outcome = applied(f.reload(&entry("a", "unbuildable-a", 4)));
        assert!(outcome.replaced.is_empty(), "{outcome:?}");
        assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
        assert_eq!(
            f.script.events_since(before),
            [Event::Refused("a".into())],
            "the old worker polls on: it is stopped only once its successor polls"
        );
        let kept = &f.supervisor.config().workers[0];
        assert_eq!(
            (kept.task_queue.as_str(), kept.activity_slots()),
            ("q-a", 3)
        );
        f.wait_for_state("a", EntryState::Running, 0).await;
    })
    .await;
}

#[tokio::test]
async fn a_failing_worker_is_restarted_with_backoff_while_the_others_keep_running() {
    local(async {
        let mut f = Fixture::new(RestartBackoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(200),
            healthy_run: Duration::from_secs(60),
        });
        f.script.fail_runs("flaky", 4);
        applied(f.supervisor.apply(config(
            &(entry("steady", "q-s", 1) + &entry("flaky", "q-f", 1)),
        )));

        let is_build_of =
            |name: &'static str| move |e: &Event| matches!(e, Event::Built(n, ..) if n == name);
        let flaky_builds =
            |events: &[Event]| events.iter().filter(|e| is_build_of("flaky")(e)).count();
        f.script
            .wait_for(LIMIT, |events| flaky_builds(events) == 5)
            .await;
        let builds = f.script.times_of(is_build_of("flaky"));
        let gaps: Vec<Duration> = builds.windows(2).map(|w| w[1] - w[0]).collect();
        for (gap, least) in gaps.iter().zip([100, 200, 200, 200]) {
            assert!(
                *gap >= Duration::from_millis(least),
                "restart delays double from 100 ms up to 200 ms: {gaps:?}"
            );
        }
        f.wait_for_state("flaky", EntryState::Running, 4).await;
        assert_eq!(f.state_of("steady"), (EntryState::Running, 0));
        let steady: Vec<Event> = f
            .script
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::Built(n, ..) | Event::Stopped(n) if n == "steady"))
            .collect();
        assert_eq!(
            steady,
            [built("steady", "q-s", 1)],
            "the other entry ran on, untouched"
        );

        let report = f.supervisor.shutdown().await;
        assert!(report.is_clean());
        assert_eq!(report.entries.len(), 2);
    })
    .await;
}

#[test]
fn restart_delays_double_up_to_the_ceiling_and_start_over_after_a_healthy_run() {
    let b = RestartBackoff {
        first: Duration::from_secs(1),
        max: Duration::from_secs(5),
        healthy_run: Duration::from_secs(60),
    };
    let mut delays = vec![b.first];
    for _ in 0..4 {
        delays.push(b.next(*delays.last().expect("one delay")));
    }
    assert_eq!(delays, [1, 2, 4, 5, 5].map(Duration::from_secs));
    let five = Duration::from_secs(5);
    assert_eq!(b.after_run(five, Duration::from_secs(59)), five);
    assert_eq!(b.after_run(five, Duration::from_secs(60)), b.first);
}

#[tokio::test]
async fn a_listen_change_is_applied_as_pending_a_restart_and_the_running_listen_stays() {
    local(async {
        let mut f = Fixture::default();
        let at = |listen: &str| format!("[host]\nlisten = \"{listen}\"\n{}", entry("a", "q-a", 1));
        f.start(&at("127.0.0.1:9464")).await;
        let before = f.script.events();

        let moved = applied(f.reload(&at("127.0.0.1:9999")));
        assert_eq!(moved.pending_restart, ["host.listen"]);
        assert!(moved.started.is_empty() && moved.replaced.is_empty() && moved.stopped.is_empty());
        assert_eq!(
            f.supervisor.config().host.listen,
            "127.0.0.1:9464",
            "the running listen"
        );
        assert_eq!(f.script.events(), before, "no worker was touched");
        assert_eq!(
            f.reload(&at("127.0.0.1:9999")),
            ReloadOutcome::Unchanged { generation: 2 },
            "the same pending change again is no change"
        );
        let back = applied(f.reload(&at("127.0.0.1:9464")));
        assert!(back.pending_restart.is_empty(), "{back:?}");
    })
    .await;
}

#[tokio::test]
async fn a_changed_workload_table_is_applied_and_one_that_needs_a_restart_is_rejected() {
    local(async {
        let mut f = Fixture::default();
        let tables = |depth: u32, size: u32| {
            format!(
                "[mytable]\ndepth = {depth}\n\n[frozen]\nsize = {size}\n{}",
                entry("a", "q-a", 1)
            )
        };
        f.start(&tables(1, 1)).await;
        let before = f.script.events();

        let deeper = applied(f.reload(&tables(2, 1)));
        assert_eq!(deeper.sections, ["mytable"]);
        assert!(
            deeper.replaced.is_empty(),
            "entries do not restart for a table: {deeper:?}"
        );
        assert_eq!(f.supervisor.config().sections.get::<MyTable>().depth, 2);

        assert_eq!(
            f.reload(&tables(2, 9)),
            ReloadOutcome::Rejected {
                reason: Rejection::NeedsRestart(vec!["frozen".into()])
            }
        );
        assert_eq!(f.supervisor.config().sections.get::<Frozen>().size, 1);
        assert_eq!(f.supervisor.generation(), 2);
        assert_eq!(f.script.events(), before);
    })
    .await;
}
