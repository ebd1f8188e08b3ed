//! CountSchedules: how many of a namespace's schedules a filter matches, counted over the same
//! per-shard lists ListSchedules merges (`matching_schedules`). Temporal allows no GROUP BY
//! here: the only groupable field, ExecutionStatus, is one a schedule query may not name.

use temporalio_protos::temporal::api::workflowservice::v1::{
    CountSchedulesRequest, CountSchedulesResponse,
};
use tonic::Status;

use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn count_schedules(
        &self,
        req: CountSchedulesRequest,
    ) -> Result<CountSchedulesResponse, Status> {
        let matching = self.matching_schedules(&req.namespace, &req.query).await?;
        Ok(CountSchedulesResponse {
            count: matching.len() as i64,
            groups: Vec::new(),
        })
    }
}
