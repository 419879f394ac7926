//! Changes to a program's names, origins and settings (the rules its points follow).

use super::PointsService;
use crate::{console_users::AuditEntry, programs::Program, storage::StorageError};

/// How many times a change is applied again when someone else saved the program meanwhile.
const CHANGE_ATTEMPTS: u32 = 8;

impl PointsService {
    /// Applies `change` to the program as stored now and saves it only if nobody saved in
    /// between; otherwise applies it again to the newer program. Two admins saving different
    /// parts at once (rules, tiers, settings) never undo each other, and a save never touches
    /// the keys. The audit entry (`audit` of the program before and after) commits with it.
    pub async fn change_program<E>(
        &self,
        program_id: &str,
        change: impl Fn(&mut Program) -> Result<(), E>,
        audit: impl Fn(&Program, &Program) -> Option<AuditEntry>,
    ) -> Result<Result<Program, E>, StorageError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let Some(before) = self.storage.program_by_id(program_id).await? else {
                return Err(StorageError::Corrupt(format!("program {program_id} vanished during a change")));
            };
            let mut after = before.clone();
            if let Err(refusal) = change(&mut after) {
                return Ok(Err(refusal));
            }
            if self.storage.update_program(&before, &after, audit(&before, &after).as_ref()).await? {
                return Ok(Ok(after));
            }
        }
        Err(StorageError::Contended(format!("program {program_id}")))
    }
}
