//! Bulk writes: the merchant's CSV imports of balances kept elsewhere, and the scale program's
//! settled histories (`tally demo --customers N`).
//!
//! An import is uploaded and checked (the dry run: counts and line-numbered errors, nothing
//! written), then run: each valid row is one ledger write (source `import`, the file's name as
//! reason) under an idempotency key of the file's hash and the customer, so the same file
//! twice changes nothing and a run resumed after a crash writes each row once. Rows go in
//! batches, each batch one transaction (a savepoint per row); the progress is kept after each.
//!
//! The scale program's histories are computed by the ledger core; the service checks each
//! against the ledger's numbering and lots before storage writes a batch in one transaction,
//! and rebuilds the running totals once at the end.

use std::collections::{HashMap, HashSet};

use super::{customer_id, PointsError, PointsService};
use crate::{
    customers::CustomerId,
    imports::{self, Checked, Mapping, Mode, Preset, Row, RowError, Target},
    ledger::{Operation, Timestamp},
    message::{message, Message},
    programs::Program,
    secrets,
    storage::{
        ClientId, Effect, ImportProgress, ImportRun, ImportStatus, ImportedCustomer, LedgerWrite, ProfilePatch,
        StoredRowError, WriteOutcome,
    },
};

/// Rows written per transaction.
pub const IMPORT_BATCH: usize = 500;
/// Customers looked up per query.
const LOOKUP_CHUNK: usize = 1_000;
/// A running import is held this long between batches before another worker may take it.
pub const IMPORT_LEASE_MS: i64 = 120_000;
/// Files up to this size are taken (about 2 million rows of id, email and points).
pub const MAX_IMPORT_BYTES: usize = 128 * 1024 * 1024;

/// An uploaded file as the console shows it: its run, its headers and the preset its headers
/// matched.
#[derive(Clone, Debug)]
pub struct UploadedImport {
    pub run: ImportRun,
    pub headers: Vec<String>,
    pub preset: Preset,
}

/// A file to import, as uploaded.
pub struct ImportUpload<'a> {
    pub file_name: &'a str,
    pub content: &'a str,
    /// `None`: the mapping remembered for the file's layout, else the preset its headers match.
    pub mapping: Option<Mapping>,
    pub mode: Option<Mode>,
    pub created_by: Option<String>,
}

impl StoredRowError {
    fn of(error: &RowError) -> Self {
        Self {
            line: error.line,
            column: error.column.clone(),
            template: error.message.template().to_owned(),
            values: error.message.values_text().to_vec(),
        }
    }
}

fn invalid_file(message: Message) -> PointsError {
    PointsError::invalid("file", message)
}

/// The rows of a file that the ledger writes, in file order.
struct Resolved {
    /// Each valid row with the customer it is about.
    rows: Vec<(Row, CustomerId)>,
    errors: Vec<RowError>,
    new_customers: u64,
}

impl PointsService {
    /// Reads and checks an uploaded file (the dry run) and keeps it, nothing else written.
    pub async fn upload_import(
        &self,
        program: &Program,
        upload: ImportUpload<'_>,
    ) -> Result<UploadedImport, PointsError> {
        let file_name = upload.file_name.trim();
        if file_name.is_empty() || file_name.chars().count() > 200 || file_name.chars().any(char::is_control) {
            return Err(PointsError::invalid("file_name", message!("1 to 200 characters on one line")));
        }
        if upload.content.len() > MAX_IMPORT_BYTES {
            return Err(invalid_file(message!("at most {0} MB a file", MAX_IMPORT_BYTES / 1024 / 1024)));
        }
        let headers = imports::headers(upload.content).map_err(invalid_file)?;
        let layout = imports::layout_key(&headers);
        let remembered = self.storage.layout(&program.id, &layout).await?;
        let (preset, guessed) = imports::guess(&headers);
        let (mapping, mode) = match (upload.mapping, remembered) {
            (Some(mapping), _) => (mapping, upload.mode.unwrap_or_default()),
            (None, Some((mapping, mode))) if mapping.len() == headers.len() => (mapping, upload.mode.unwrap_or(mode)),
            _ => (guessed, upload.mode.unwrap_or_default()),
        };
        let content_hash = secrets::fingerprint(upload.content.as_bytes());
        let mut run = ImportRun {
            import_id: secrets::random_token("imp_", 12),
            program_id: program.id.clone(),
            file_name: file_name.to_owned(),
            content_hash,
            mode,
            mapping,
            status: ImportStatus::Checked,
            total_rows: 0,
            rejected_rows: 0,
            new_customers: 0,
            done_rows: 0,
            written: 0,
            unchanged: 0,
            failed: 0,
            errors: Vec::new(),
            created_by: upload.created_by,
            created_at: self.now(),
            started_at: None,
            finished_at: None,
        };
        match self.dry_run(program, &mut run, upload.content).await {
            Ok(()) => {}
            // A layout Tally cannot read by itself: kept, for the merchant to map its columns.
            Err(PointsError::Invalid { field, message }) if field == "mapping" => {
                run.errors = vec![StoredRowError::of(&RowError { line: 1, column: None, message })];
            }
            Err(other) => return Err(other),
        }
        self.storage.create_import(&run, upload.content).await?;
        Ok(UploadedImport { run, headers, preset })
    }

    /// Checks a kept file again under another mapping or mode (before it runs).
    pub async fn recheck_import(
        &self,
        program: &Program,
        import_id: &str,
        mapping: Mapping,
        mode: Mode,
    ) -> Result<ImportRun, PointsError> {
        let mut run = self.import(program, import_id).await?;
        if run.status != ImportStatus::Checked {
            return Err(PointsError::ImportStarted);
        }
        let content = self.import_content(&run).await?;
        run.mapping = mapping;
        run.mode = mode;
        self.dry_run(program, &mut run, &content).await?;
        if !self.storage.recheck_import(&run).await? {
            return Err(PointsError::ImportStarted);
        }
        Ok(run)
    }

    /// One of the program's imports.
    pub async fn import(&self, program: &Program, import_id: &str) -> Result<ImportRun, PointsError> {
        self.storage
            .import_run(&program.id, import_id)
            .await?
            .ok_or_else(|| PointsError::NoImport(import_id.to_owned()))
    }

    async fn import_content(&self, run: &ImportRun) -> Result<String, PointsError> {
        self.storage.import_content(&run.import_id).await?.ok_or_else(|| PointsError::NoImport(run.import_id.clone()))
    }

    /// Starts a checked import (or resumes a failed one); the layout's mapping is remembered.
    /// A worker runs it ([`Self::run_next_import`]).
    pub async fn start_import(&self, program: &Program, import_id: &str) -> Result<ImportRun, PointsError> {
        let run = self.import(program, import_id).await?;
        if !self.storage.start_import(&program.id, import_id, self.now()).await? {
            return Err(PointsError::ImportStarted);
        }
        let content = self.import_content(&run).await?;
        let headers = imports::headers(&content).map_err(invalid_file)?;
        let layout = imports::layout_key(&headers);
        self.storage.remember_layout(&program.id, &layout, &run.mapping, run.mode, self.now()).await?;
        self.imports.notify_one();
        self.import(program, import_id).await
    }

    /// What wakes this process's import worker.
    pub fn import_waker(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.imports.clone()
    }

    /// Counts and errors of `content` under the run's mapping and mode, into the run.
    async fn dry_run(&self, program: &Program, run: &mut ImportRun, content: &str) -> Result<(), PointsError> {
        let checked = self.checked(program, run, content)?;
        let rejected_by_check = checked.rejected;
        let resolved = self.resolve(program, checked.rows).await?;
        let mut errors = checked.errors;
        errors.extend(resolved.errors.iter().cloned());
        errors.sort_by_key(|error| error.line);
        run.total_rows = resolved.rows.len() as u64;
        run.rejected_rows = rejected_by_check + resolved.errors.len() as u64;
        run.new_customers = resolved.new_customers;
        run.errors = errors.iter().map(StoredRowError::of).collect();
        Ok(())
    }

    fn checked(&self, program: &Program, run: &ImportRun, content: &str) -> Result<Checked, PointsError> {
        let context = imports::Context { mode: run.mode, tiers: &program.settings.tiers, currency: &program.currency };
        imports::check(content, &run.mapping, &context).map_err(|message| PointsError::invalid("mapping", message))
    }

    /// Each row's customer: its id, or the customer who has its email (a row whose email
    /// nobody has is an error: the store's customer id is needed to create them).
    async fn resolve(&self, program: &Program, rows: Vec<Row>) -> Result<Resolved, PointsError> {
        let mut resolved = Resolved { rows: Vec::with_capacity(rows.len()), errors: Vec::new(), new_customers: 0 };
        for chunk in rows.chunks(LOOKUP_CHUNK) {
            let (mut ids, mut emails) = (Vec::new(), Vec::new());
            for row in chunk {
                match row.target() {
                    Some(Target::Id(id)) => ids.push(id),
                    Some(Target::Email(email)) => emails.push(email),
                    None => {}
                }
            }
            let known =
                if ids.is_empty() { HashSet::new() } else { self.storage.known_customers(&program.id, &ids).await? };
            let by_email = if emails.is_empty() {
                HashMap::new()
            } else {
                self.storage.customers_by_email(&program.id, &emails).await?
            };
            for row in chunk {
                let id = match row.target() {
                    Some(Target::Id(id)) => {
                        if !known.contains(&id) {
                            resolved.new_customers += 1;
                        }
                        id
                    }
                    Some(Target::Email(email)) => match by_email.get(&email) {
                        Some(id) => id.clone(),
                        None => {
                            resolved.errors.push(RowError {
                                line: row.line,
                                column: None,
                                message: message!(
                                    "no customer has the email {0}: add a customer id column (the store's customer id) to create them",
                                    email
                                ),
                            });
                            continue;
                        }
                    },
                    None => continue,
                };
                let customer = customer_id("customer_id", &id)?;
                resolved.rows.push((row.clone(), customer));
            }
        }
        Ok(resolved)
    }

    /// The ledger write of one row.
    fn import_write(&self, program: &Program, run: &ImportRun, row: &Row, customer: CustomerId) -> LedgerWrite {
        let operation = match (run.mode, row.points) {
            (Mode::Add, Some(points)) if points != 0 => Operation::Adjust { points },
            (Mode::Set, Some(points)) => Operation::SetBalance { points },
            _ => Operation::Settle,
        };
        // The same file's row for the same customer is the same write, whenever it runs.
        let request = serde_json::to_vec(&(
            run.mode,
            row.points,
            row.qualifying,
            &row.email,
            &row.name,
            &row.birthday,
            row.marketing_consent,
        ))
        .expect("rows serialise");
        let client = ClientId {
            kind: "import",
            id: format!("{}:{}", &run.content_hash[..16], customer.as_str()),
            request_hash: secrets::fingerprint(&request),
        };
        let mut write = LedgerWrite::new(program, customer, Some(client), operation, "import", self.now());
        write.reference = Some(run.file_name.clone());
        write.effect = Effect::Import {
            profile: ProfilePatch {
                email: row.email.clone(),
                name: row.name.clone(),
                birthday: row.birthday.clone(),
                marketing_consent: row.marketing_consent,
            },
            qualifying: row.qualifying,
        };
        write
    }

    /// Runs one running import that no worker holds, to its end; `false` when there was none.
    pub async fn run_next_import(&self) -> Result<bool, PointsError> {
        let now = self.now();
        let Some(run) = self.storage.claim_import(now, Timestamp(now.0 + IMPORT_LEASE_MS)).await? else {
            return Ok(false);
        };
        let program = self.storage.program_by_id(&run.program_id).await?;
        let outcome = match program {
            Some(program) => self.run_import(&program, run.clone()).await,
            None => Err(PointsError::NoImport(run.import_id.clone())),
        };
        if let Err(error) = &outcome {
            tracing::error!(import = %run.import_id, %error, "the import stopped; start it again to resume");
            self.storage.finish_import_run(&run.import_id, ImportStatus::Failed, self.now()).await?;
        }
        Ok(true)
    }

    /// Writes the rows the run has not written yet, a batch per transaction, keeping the
    /// progress after each; the run is done after the last.
    pub async fn run_import(&self, program: &Program, run: ImportRun) -> Result<ImportRun, PointsError> {
        let content = self.import_content(&run).await?;
        let checked = self.checked(program, &run, &content)?;
        // The dry run told the errors of the rows left out; the run writes the others.
        let resolved = self.resolve(program, checked.rows).await?;
        let mut done = run.done_rows as usize;
        for batch in resolved.rows[done.min(resolved.rows.len())..].chunks(IMPORT_BATCH) {
            let mut progress = ImportProgress::default();
            let writes: Vec<LedgerWrite> =
                batch.iter().map(|(row, customer)| self.import_write(program, &run, row, customer.clone())).collect();
            let outcomes = match self.storage.write_ledger_batch(&writes).await {
                Ok(outcomes) => outcomes,
                // A row that collides with a concurrent write: one by one, each on its own.
                Err(error) => {
                    tracing::warn!(%error, "an import batch failed; writing its rows one by one");
                    let mut outcomes = Vec::with_capacity(writes.len());
                    for write in &writes {
                        outcomes.push(self.storage.write_ledger(write).await?);
                    }
                    outcomes
                }
            };
            for ((row, _), outcome) in batch.iter().zip(outcomes) {
                let error = |message| StoredRowError::of(&RowError { line: row.line, column: None, message });
                match outcome {
                    WriteOutcome::Applied(_) => progress.written += 1,
                    WriteOutcome::Replayed(_) => progress.unchanged += 1,
                    WriteOutcome::Conflict => {
                        progress.failed += 1;
                        progress.errors.push(error(message!(
                            "this file was imported before with another mapping or mode: the row keeps what that import wrote"
                        )));
                    }
                    WriteOutcome::Refused(refusal) => {
                        progress.failed += 1;
                        progress.errors.push(error(refusal.message()));
                    }
                }
            }
            done += batch.len();
            progress.done_rows = done as u64;
            let until = Timestamp(self.now().0 + IMPORT_LEASE_MS);
            self.storage.record_import_progress(&run.import_id, &progress, until).await?;
            self.wake_outbox();
        }
        self.storage.finish_import_run(&run.import_id, ImportStatus::Done, self.now()).await?;
        self.import(program, &run.import_id).await
    }
}

/// Why an imported history would break the ledger, if it would: ids valid and each customer
/// once, entries numbered from 1 in time order (I3's seq), never zero, consuming only earlier
/// lots, and the account's open lots opened by its own positive entries, never holding more
/// than they were opened with (I1).
fn check_history(program: &Program, customer: &ImportedCustomer, field: &str) -> Result<(), PointsError> {
    customer_id(&format!("{field}.customer_id"), &customer.customer_id)?;
    if let Some(tier) = &customer.tier_id {
        if !program.settings.tiers.tiers.iter().any(|known| known.id == *tier) {
            return Err(PointsError::invalid(
                format!("{field}.tier_id"),
                message!("this program has no tier {0}", format!("{tier:?}")),
            ));
        }
    }
    let mut opened: HashMap<u64, i64> = HashMap::new();
    let mut previous = None;
    for (index, imported) in customer.entries.iter().enumerate() {
        let entry = &imported.entry;
        let field = format!("{field}.entries[{index}]");
        if entry.seq != index as u64 + 1 || previous.is_some_and(|at| imported.created_at < at) {
            return Err(PointsError::invalid(
                field,
                message!("entries are numbered from 1 without gaps, oldest first"),
            ));
        }
        if entry.points == 0 {
            return Err(PointsError::invalid(format!("{field}.points"), message!("points must not be zero")));
        }
        if entry.consumed.iter().any(|(lot, points)| *lot >= entry.seq || *points <= 0) {
            return Err(PointsError::invalid(
                format!("{field}.consumed"),
                message!("entries take points from earlier lots"),
            ));
        }
        if entry.points > 0 {
            opened.insert(entry.seq, entry.points);
        }
        previous = Some(imported.created_at);
    }
    let account = &customer.account;
    let lots_fit = account
        .lots
        .iter()
        .all(|lot| lot.remaining > 0 && opened.get(&lot.seq).is_some_and(|points| lot.remaining <= *points));
    if account.last_seq != customer.entries.len() as u64 || !lots_fit {
        return Err(PointsError::invalid(
            format!("{field}.account"),
            message!("the open lots must come from the customer's own entries"),
        ));
    }
    Ok(())
}

impl PointsService {
    /// Writes one batch of new customers with their settled histories, checked first (nothing
    /// is written when one of them fails, and the error names it). The customers must not
    /// exist yet; [`Self::finish_import`] follows the last batch.
    pub async fn import_histories(&self, program: &Program, customers: &[ImportedCustomer]) -> Result<(), PointsError> {
        let mut seen = HashSet::with_capacity(customers.len());
        for (index, customer) in customers.iter().enumerate() {
            let field = format!("customers[{index}]");
            check_history(program, customer, &field)?;
            if !seen.insert(customer.customer_id.as_str()) {
                return Err(PointsError::invalid(
                    format!("{field}.customer_id"),
                    message!("each customer comes once in an import"),
                ));
            }
        }
        Ok(self.storage.import_history(&program.id, customers).await?)
    }

    /// After the last batch: the program's running totals from its ledger (imports leave them
    /// alone) and fresh planner statistics. Writes to the program must not run meanwhile.
    pub async fn finish_import(&self, program: &Program) -> Result<(), PointsError> {
        self.storage.rebuild_totals(&program.id).await?;
        Ok(self.storage.refresh_statistics().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        customers::CustomerProfile,
        ledger::{Account, ExpiryPolicy, Timestamp},
        storage::ImportedEntry,
    };

    fn history() -> ImportedCustomer {
        let mut account = Account::new(ExpiryPolicy::Never);
        let mut entries = Vec::new();
        for (at, earn, redeem) in [(1_000, 300, 0), (2_000, 0, 120), (3_000, 50, 0)] {
            let at = Timestamp(at);
            let produced =
                if earn > 0 { account.earn(at, earn, None, at) } else { account.redeem(at, redeem) }.unwrap();
            entries.extend(produced.into_iter().map(|entry| ImportedEntry {
                entry,
                source: "purchase".into(),
                created_at: at,
            }));
        }
        ImportedCustomer {
            customer_id: "ana".into(),
            profile: CustomerProfile::default(),
            created_at: Timestamp(1_000),
            tier_id: None,
            entries,
            account,
        }
    }

    fn refusal(customer: &ImportedCustomer) -> Option<String> {
        let (program, _, _) = Program::create("Shop", "USD", "points", Vec::new()).unwrap();
        check_history(&program, customer, "customers[0]").err().map(|error| match error {
            PointsError::Invalid { field, message } => format!("{field}: {message}"),
            other => other.to_string(),
        })
    }

    #[test]
    fn a_history_from_the_ledger_core_passes_and_each_tampering_is_named() {
        assert_eq!(refusal(&history()), None);
        let tampered = |change: fn(&mut ImportedCustomer)| {
            let mut customer = history();
            change(&mut customer);
            refusal(&customer).unwrap_or_default()
        };
        assert_eq!(
            tampered(|customer| customer.entries[1].entry.seq = 3),
            "customers[0].entries[1]: entries are numbered from 1 without gaps, oldest first"
        );
        assert_eq!(
            tampered(|customer| customer.entries[2].created_at = Timestamp(10)),
            "customers[0].entries[2]: entries are numbered from 1 without gaps, oldest first"
        );
        assert_eq!(
            tampered(|customer| customer.entries[1].entry.consumed = vec![(2, 120)]),
            "customers[0].entries[1].consumed: entries take points from earlier lots"
        );
        assert_eq!(
            tampered(|customer| customer.account.lots[0].remaining += 1_000),
            "customers[0].account: the open lots must come from the customer's own entries"
        );
        assert_eq!(
            tampered(|customer| customer.account.last_seq = 7),
            "customers[0].account: the open lots must come from the customer's own entries"
        );
        assert_eq!(
            tampered(|customer| customer.tier_id = Some("platinum".into())),
            "customers[0].tier_id: this program has no tier \"platinum\""
        );
        assert!(tampered(|customer| customer.customer_id = "a\0b".into()).starts_with("customers[0].customer_id: "));
    }
}
