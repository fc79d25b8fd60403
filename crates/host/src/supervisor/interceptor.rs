//! The host's activity interceptor: every activity attempt of an entry is recorded in the
//! worker's [`Ledger`] and runs inside a span that names its workflow, run and type, so every
//! log line of an activity carries them. (Concurrency is bounded before the poll, by the entry's
//! slot suppliers, not here.)

use super::ledger::{ActivityRef, Ledger, Outcome};
use crate::status::HostStatus;
use futures::FutureExt;
use temporalio_sdk::{
    activities::ActivityError,
    interceptors::{ActivityInboundInterceptor, ExecuteActivityInput, ExecuteActivityOutput, Next},
};
use tracing::Instrument;

/// Installed on each worker the host builds.
pub(crate) struct HostInterceptor {
    pub(crate) entry: String,
    pub(crate) ledger: Ledger,
    pub(crate) status: HostStatus,
}

impl ActivityInboundInterceptor for HostInterceptor {
    fn execute_activity<'a>(
        &'a self,
        input: ExecuteActivityInput,
        next: Next<'a, ExecuteActivityInput, ExecuteActivityOutput<'a>>,
    ) -> ExecuteActivityOutput<'a> {
        let info = input.activity_info();
        let token = info.task_token.clone();
        let workflow_id = info.workflow_id.clone().unwrap_or_default();
        let span = tracing::info_span!(
            "activity",
            entry = %self.entry,
            workflow_id = %workflow_id,
            run_id = %info.workflow_run_id.as_deref().unwrap_or_default(),
            activity_type = %info.activity_type,
            activity_id = %info.activity_id,
            attempt = info.attempt,
        );
        let activity_type = info.activity_type.clone();
        let activity = ActivityRef {
            activity_type: info.activity_type.clone(),
            activity_id: info.activity_id.clone(),
            workflow_id,
        };
        self.ledger.started(token.clone(), activity);
        async move {
            tracing::debug!("activity started");
            let result = next.run(input).await;
            let outcome = match &result {
                Ok(_) => Outcome::Completed,
                Err(ActivityError::Cancelled { .. }) => Outcome::Cancelled,
                Err(_) => Outcome::Failed,
            };
            self.ledger.finished(&token, outcome);
            self.status
                .activity_finished(&self.entry, &activity_type, outcome.label());
            tracing::debug!(?outcome, "activity finished");
            result
        }
        .instrument(span)
        .boxed()
    }
}
