//! `tally program ...`, `tally user ...` and `tally import ...`: program and console-user
//! administration and imports from the command line.

use std::sync::Arc;

use crate::{
    config::{ImportArgs, ProgramArgs, ProgramCommand, UserArgs, UserCommand},
    console_users::{ConsoleUser, Email, NewPassword, Role},
    imports::{self, Field, Mode, Preset},
    ledger::{Clock, SystemClock},
    points::{ImportUpload, PointsError, PointsService},
    programs::{ApiKeyRecord, CreatedProgram, Program},
    secrets, storage,
};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    #[error(transparent)]
    Program(#[from] crate::programs::ProgramError),
    #[error("no program has the id {0:?} (see `tally program list`)")]
    UnknownProgram(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Points(#[from] PointsError),
}

/// `tally import`: the file checked (and its errors printed by line), then, unless
/// `--dry-run`, written with progress on standard error.
pub async fn import(args: ImportArgs) -> Result<(), CliError> {
    let mode = Mode::parse(&args.mode).ok_or_else(|| CliError::Invalid("--mode: add or set".into()))?;
    let content =
        std::fs::read(&args.file).map_err(|error| CliError::Invalid(format!("{}: {error}", args.file.display())))?;
    let content = String::from_utf8(content)
        .map_err(|_| CliError::Invalid(format!("{}: not UTF-8 text (save the CSV as UTF-8)", args.file.display())))?;
    let headers = imports::headers(&content).map_err(|message| CliError::Invalid(message.to_string()))?;
    let mut mapping = match &args.preset {
        Some(name) => {
            let preset = Preset::parse(name)
                .ok_or_else(|| CliError::Invalid("--preset: tally, smile_io, loyaltylion or woocommerce".into()))?;
            Some(imports::mapping_of(preset, &headers))
        }
        None => None,
    };
    for pair in &args.map {
        let (column, field) =
            pair.rsplit_once('=').ok_or_else(|| CliError::Invalid(format!("--map {pair:?}: COLUMN=FIELD")))?;
        let index = headers
            .iter()
            .position(|header| header == column.trim())
            .ok_or_else(|| CliError::Invalid(format!("--map {pair:?}: the file has no column {column:?}")))?;
        let field = match field.trim() {
            "" => None,
            name => Some(
                Field::parse(name).ok_or_else(|| CliError::Invalid(format!("--map {pair:?}: no field {name:?}")))?,
            ),
        };
        let mapping = mapping.get_or_insert_with(|| imports::guess(&headers).1);
        mapping[index] = field;
    }
    let storage = storage::connect(&args.database_url).await?;
    let program =
        storage.program_by_id(&args.program).await?.ok_or_else(|| CliError::UnknownProgram(args.program.clone()))?;
    let points = PointsService::new(storage, Arc::new(SystemClock));
    let file_name =
        args.file.file_name().map_or_else(|| "import.csv".into(), |name| name.to_string_lossy().into_owned());
    let upload = ImportUpload { file_name: &file_name, content: &content, mapping, mode: Some(mode), created_by: None };
    let uploaded = points.upload_import(&program, upload).await?;
    let run = &uploaded.run;
    eprintln!(
        "{file_name}: rows to import: {}, new customers among them: {}, rows with errors (left out): {}",
        run.total_rows, run.new_customers, run.rejected_rows
    );
    eprintln!("columns: {}", describe_mapping(&uploaded.headers, &run.mapping));
    for error in &run.errors {
        let column = error.column.as_deref().map(|column| format!(" ({column})")).unwrap_or_default();
        eprintln!("  line {}{column}: {}", error.line, crate::message::fill_stored(&error.template, &error.values));
    }
    if args.dry_run {
        eprintln!("dry run: nothing written (import {})", run.import_id);
        return Ok(());
    }
    let started = points.start_import(&program, &run.import_id).await?;
    let clock = std::time::Instant::now();
    let total = started.total_rows.max(1);
    let progress = {
        let (storage, program_id, import_id) = (points.storage_handle(), program.id.clone(), started.import_id.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                if let Ok(Some(run)) = storage.import_run(&program_id, &import_id).await {
                    eprintln!("  {} of {} rows ({}%)", run.done_rows, run.total_rows, run.done_rows * 100 / total);
                }
            }
        })
    };
    let done = points.run_import(&program, started).await;
    progress.abort();
    let done = done?;
    let seconds = clock.elapsed().as_secs_f64();
    eprintln!(
        "done in {seconds:.1} s ({:.0} rows/s): {} written, {} unchanged, {} refused",
        done.done_rows as f64 / seconds.max(0.001),
        done.written,
        done.unchanged,
        done.failed
    );
    for error in done.errors.iter().skip(run.errors.len()) {
        eprintln!("  line {}: {}", error.line, crate::message::fill_stored(&error.template, &error.values));
    }
    Ok(())
}

/// `Email → email, Points balance → points, Notes (ignored)`.
fn describe_mapping(headers: &[String], mapping: &imports::Mapping) -> String {
    headers
        .iter()
        .zip(mapping)
        .map(|(header, field)| match field {
            Some(field) => format!("{header} → {}", field.as_str()),
            None => format!("{header} (ignored)"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn program(args: ProgramArgs) -> Result<(), CliError> {
    let storage = storage::connect(&args.database_url).await?;
    let now = SystemClock.now();
    match args.command {
        ProgramCommand::Create { name, currency, points_name, allowed_origins } => {
            let (program, key, secret_key) = Program::create(&name, &currency, &points_name, allowed_origins)?;
            storage.create_program(&program, &key, now).await?;
            print_keys(
                args.json,
                &CreatedProgram {
                    program_id: program.id,
                    secret_key,
                    publishable_key: program.publishable_key,
                    widget_secret: program.widget_secret,
                },
            );
        }
        ProgramCommand::List => {
            let programs = storage.list_programs().await?;
            if args.json {
                let list: Vec<_> = programs
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "program_id": p.id, "name": p.name, "currency": p.currency,
                            "publishable_key": p.publishable_key, "allowed_origins": p.allowed_origins,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else if programs.is_empty() {
                println!("No programs yet: create one with `tally program create --name NAME --currency USD`.");
            } else {
                for p in programs {
                    println!("{}  {}  {}  {}", p.id, p.publishable_key, p.currency, p.name);
                }
            }
        }
        ProgramCommand::RotateKeys { program } => {
            let (secret_key, key) = ApiKeyRecord::generate();
            let widget_secret = secrets::random_token("whsec_", 32);
            if !storage.rotate_keys(&program, &key, &widget_secret, now).await? {
                return Err(CliError::UnknownProgram(program));
            }
            let publishable_key = storage.program_by_id(&program).await?.map(|p| p.publishable_key).unwrap_or_default();
            print_keys(args.json, &CreatedProgram { program_id: program, secret_key, publishable_key, widget_secret });
        }
    }
    Ok(())
}

fn print_keys(json: bool, keys: &CreatedProgram) {
    if json {
        println!("{}", serde_json::to_string(keys).expect("keys serialise"));
    } else {
        println!("program id:       {}", keys.program_id);
        println!("secret key:       {}   (shown once: store it in your backend)", keys.secret_key);
        println!("publishable key:  {}", keys.publishable_key);
        println!("widget secret:    {}   (signs customer tokens in your backend)", keys.widget_secret);
    }
}

pub async fn user(args: UserArgs) -> Result<(), CliError> {
    let (email, role, programs, password_stdin) = match args.command {
        UserCommand::Create { email, role, programs, password_stdin } => (email, role, programs, password_stdin),
        UserCommand::SetupCode => {
            let storage = storage::connect(&args.database_url).await?;
            return match crate::console_users::new_setup_code(storage.as_ref(), SystemClock.now()).await? {
                Some(code) => {
                    println!("set-up code: {code}   (enter it on the console's set-up page, /admin/setup)");
                    Ok(())
                }
                None => Err(CliError::Invalid("the console has an owner already: sign in at /admin".into())),
            };
        }
    };
    let email = Email::parse(&email).map_err(|message| CliError::Invalid(format!("--email: {message}")))?;
    let role = Role::parse(&role).ok_or_else(|| CliError::Invalid("--role: owner, admin or viewer".into()))?;
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|error| CliError::Invalid(format!("stdin: {error}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        std::env::var("TALLY_USER_PASSWORD").map_err(|_| {
            CliError::Invalid("set TALLY_USER_PASSWORD or pass --password-stdin (never the password itself)".into())
        })?
    };
    let password =
        NewPassword::parse(&password).map_err(|message| CliError::Invalid(format!("password: {message}")))?;
    let storage = storage::connect(&args.database_url).await?;
    if role != Role::Owner && !storage.console_is_set_up().await? {
        return Err(CliError::Invalid("the first console user must be an owner (--role owner)".into()));
    }
    for program in &programs {
        if storage.program_by_id(program).await?.is_none() {
            return Err(CliError::UnknownProgram(program.clone()));
        }
    }
    let user = ConsoleUser { id: secrets::random_token("usr_", 8), email, role, created_at: SystemClock.now() };
    if !storage.create_user(&user, &password.hash(), &programs, None).await? {
        return Err(CliError::Invalid(format!("{} already has a console account", user.email.as_str())));
    }
    println!("created {} ({}): sign in at /admin", user.email.as_str(), role.as_str());
    Ok(())
}
