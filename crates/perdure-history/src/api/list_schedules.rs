//! One shard's part of ListSchedules: every schedule of the namespace it holds, behind a read
//! barrier (the frontend asks every shard and merges by schedule id).

use perdure_storage::ShardId;
use temporalio_protos::temporal::api::schedule::v1::ScheduleListEntry;

use crate::api::execution_not_found;
use crate::errors::HistoryError;
use crate::schedules::scan_schedules;
use crate::HistoryService;

impl HistoryService {
    pub async fn list_schedules(
        &self,
        shard: ShardId,
        namespace_id: &str,
    ) -> Result<Vec<ScheduleListEntry>, HistoryError> {
        let shard = self
            .shard(shard)
            .ok_or_else(|| HistoryError::from(execution_not_found()))?;
        shard.read_barrier().await?;
        Ok(scan_schedules(shard, namespace_id)?
            .iter()
            .map(|s| s.list_entry())
            .collect())
    }
}
