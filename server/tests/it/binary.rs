//! The `tally` binary itself: serving is the default, configuration comes from the environment,
//! and SIGTERM stops it gracefully.

use std::{process::Command, time::Duration};

use crate::common::{fresh_database, start_tally, Db};

#[tokio::test]
async fn serves_by_default_from_env_config_and_exits_cleanly_on_sigterm() {
    let database_url = fresh_database(Db::Sqlite).await;
    let mut tally = start_tally(&[], &[("TALLY_LISTEN", "127.0.0.1:0"), ("DATABASE_URL", &database_url)]);
    let addr = tally.addr.clone();

    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    let killed = Command::new("kill").args(["-TERM", &tally.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = wait_with_timeout(&mut tally.child, Duration::from_secs(15));
    assert!(status.success(), "graceful exit, got {status}");
    let rest: Vec<String> = tally.lines.try_iter().collect();
    assert!(rest.iter().any(|line| line.contains("shutting down")), "{rest:?}");
}

/// First start on a new SQLite file: a private key file next to it seals the secrets (none is
/// in the database's files in plain text), and the log prints the one-time set-up code;
/// `tally admin setup-code` prints another, and either sets up the console.
#[tokio::test]
async fn a_first_start_keeps_a_private_key_and_prints_a_setup_code() {
    let database_url = fresh_database(Db::Sqlite).await;
    let database = std::path::PathBuf::from(database_url.trim_start_matches("sqlite://"));
    let created = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["program", "create", "--database-url", &database_url, "--name", "Sealed Shop", "--currency", "USD"])
        .args(["--json"])
        .env_remove("TALLY_SECRET_KEY")
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let keys: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let widget_secret = keys["widget_secret"].as_str().unwrap().to_owned();
    let key_file = tally_server::secrets::key_file_path(&database);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).expect("a key file next to the database").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the server's user reads the key");
    }
    assert!(String::from_utf8_lossy(&created.stderr).contains("created a secret key"), "the operator is told");

    let tally =
        start_tally(&[], &[("TALLY_LISTEN", "127.0.0.1:0"), ("DATABASE_URL", &database_url), ("TALLY_SECRET_KEY", "")]);
    let logged = tally.startup.iter().find(|line| line.contains("setup_code=")).expect("the set-up code is logged");
    let code = logged.split("setup_code=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    assert_eq!(code.len(), 14, "{logged}");
    let fresh = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["admin", "setup-code", "--database-url", &database_url])
        .env_remove("TALLY_SECRET_KEY")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&fresh.stdout).into_owned();
    let cli_code = said.split_whitespace().nth(2).expect("set-up code: XXXX-XXXX-XXXX").to_owned();
    assert!(fresh.status.success() && cli_code != code && cli_code.len() == 14, "{said}");

    let program = keys["program_id"].as_str().unwrap();
    let widget =
        reqwest::get(format!("http://{}/widget/v1/programs/{}", tally.addr, keys["publishable_key"].as_str().unwrap()))
            .await
            .unwrap();
    assert_eq!(widget.status(), 200, "the server opens what the command line sealed ({program})");
    let client = crate::common::client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let set_up = client
        .post(format!("http://{}/admin/fn/set_up", tally.addr))
        .header("origin", format!("http://{}", tally.addr))
        .header("accept", "text/html")
        .form(&[
            ("code", cli_code.as_str()),
            ("email", "ops@shop.example"),
            ("password", "a long enough password"),
            ("confirm", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(set_up.status(), 302, "the command line's code sets up the console");
    drop(tally);

    for file in [database.clone(), std::path::PathBuf::from(format!("{}-wal", database.display()))] {
        if let Ok(bytes) = std::fs::read(&file) {
            let found = bytes.windows(widget_secret.len()).any(|window| window == widget_secret.as_bytes());
            assert!(!found, "the widget secret is not in {} in plain text", file.display());
        }
    }
    let again = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["admin", "setup-code", "--database-url", &database_url])
        .env_remove("TALLY_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("has an owner already"));
}

#[test]
fn an_unusable_database_url_fails_fast_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
}

fn wait_with_timeout(child: &mut std::process::Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("tally did not exit within {timeout:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `tally user create`: the first user must be an owner, passwords never come from arguments,
/// and the created user can sign in to the console.
#[tokio::test]
async fn user_create_makes_console_users_from_the_command_line() {
    let database_url = fresh_database(Db::Sqlite).await;
    let create = |args: &[&str], password: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
        command.args(["user", "create", "--database-url", &database_url]).args(args).env_remove("TALLY_USER_PASSWORD");
        if let Some(password) = password {
            command.env("TALLY_USER_PASSWORD", password);
        }
        let output = command.output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, said) = create(&["--email", "ops@shop.example"], None);
    assert!(!ok && said.contains("TALLY_USER_PASSWORD"), "{said}");
    let (ok, said) = create(&["--email", "viewer@shop.example", "--role", "viewer"], Some("a long enough password"));
    assert!(!ok && said.contains("must be an owner"), "{said}");
    let (ok, said) = create(&["--email", "ops@shop.example"], Some("short"));
    assert!(!ok && said.contains("at least 10 characters"), "{said}");
    let (ok, said) = create(&["--email", "Ops@Shop.example"], Some("a long enough password"));
    assert!(ok && said.contains("created ops@shop.example (owner)"), "{said}");
    let (ok, said) = create(&["--email", "ops@shop.example"], Some("another long password"));
    assert!(!ok && said.contains("already has a console account"), "{said}");
    let (ok, said) = create(
        &["--email", "v@shop.example", "--role", "viewer", "--program", "prg_nope"],
        Some("a long enough password"),
    );
    assert!(!ok && said.contains("prg_nope"), "{said}");
    // `tally admin …`, the command's older name, still reaches it.
    let older = Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(["admin", "create", "--database-url", &database_url, "--email", "ops@shop.example"])
        .env("TALLY_USER_PASSWORD", "a long enough password")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&older.stderr);
    assert!(!older.status.success() && said.contains("already has a console account"), "{said}");

    let tally = start_tally(&["serve", "--listen", "127.0.0.1:0", "--database-url", &database_url], &[]);
    let client = crate::common::client_builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let setup = client.get(format!("http://{}/admin/setup", tally.addr)).send().await.unwrap();
    assert_eq!(setup.headers()["location"], "/admin/login", "the console counts as set up");
    let signed_in = client
        .post(format!("http://{}/admin/fn/sign_in", tally.addr))
        .header("origin", format!("http://{}", tally.addr))
        .header("accept", "text/html")
        .form(&[("email", "ops@shop.example"), ("password", "a long enough password")])
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_redirection() && signed_in.headers().contains_key("set-cookie"));
}
