//! `tally program ...` and `tally user ...`: program and console-user administration from the
//! command line.

use crate::{
    config::{ProgramArgs, ProgramCommand, UserArgs, UserCommand},
    console_users::{ConsoleUser, Email, NewPassword, Role},
    ledger::{Clock, SystemClock},
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
