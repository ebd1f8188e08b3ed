//! DeprecateNamespace (deprecated by Temporal in favour of UpdateNamespace's state, still
//! served): marks a namespace deprecated, so it takes no new runs. Like UpdateNamespace, a
//! compare-and-set in the meta group made by its leader (`service.rs` forwards it there).

use temporalio_protos::temporal::api::enums::v1::NamespaceState;
use temporalio_protos::temporal::api::workflowservice::v1::{
    DeprecateNamespaceRequest, DeprecateNamespaceResponse,
};
use tonic::Status;

use crate::server::Frontend;

impl Frontend {
    pub(crate) async fn deprecate_namespace(
        &self,
        req: DeprecateNamespaceRequest,
    ) -> Result<DeprecateNamespaceResponse, Status> {
        // A deleted namespace is refused here, as Temporal's namespace check refuses it.
        self.namespaces.get(&req.namespace)?;
        self.namespaces
            .update(&req.namespace, |record| {
                let info = record.info.get_or_insert_with(Default::default);
                // Temporal writes the record (bumping its version) even when already deprecated.
                info.state = NamespaceState::Deprecated as i32;
                Ok(true)
            })
            .await?;
        Ok(DeprecateNamespaceResponse::default())
    }
}
