//! The `tally` binary itself: serving is the default, configuration comes from the environment,
//! and SIGTERM stops it gracefully.

mod common;

use std::{process::Command, time::Duration};

use common::{fresh_database, start_tally, Db};

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
