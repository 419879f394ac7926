//! Imports through the console over real HTTP: the file uploaded as a browser's multipart form,
//! the dry run, a new mapping and mode, the start, the import worker's run (by hand, on the
//! test's clock), the progress, the same file again, a resumed run, refusals.

use reqwest::{header, Client, Method};
use serde_json::{json, Value};
use tally_server::{console_users::Role, points::PointsService, storage::ImportStatus};

use crate::{
    common::{spawn_app_at, TestApp},
    console::{add_user, browser, failure, location, post_fields, post_json, sign_in},
};

const OWNER: &str = "owner@shop.example";

/// The upload form as a browser sends it: `multipart/form-data` with the CSRF token, the mode
/// and the file.
async fn upload(app: &TestApp, client: &Client, program: &str, cookie: &str, csrf: &str, name: &str, file: &[u8]) -> reqwest::Response {
    let boundary = "----tally-test-boundary";
    let mut body = Vec::new();
    for (field, value) in [("csrf", csrf), ("mode", "add")] {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n")
            .as_bytes(),
    );
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    client
        .post(app.url(&format!("/admin/programs/{program}/imports")))
        .header(header::ORIGIN, format!("http://{}", app.addr))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Uploads `file` and returns its import's id (from the page the upload leads to).
async fn uploaded(app: &TestApp, client: &Client, program: &str, cookie: &str, csrf: &str, name: &str, file: &str) -> String {
    let answer = upload(app, client, program, cookie, csrf, name, file.as_bytes()).await;
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let page = location(&answer).to_owned();
    let prefix = format!("/admin/programs/{program}/imports/");
    assert!(page.starts_with(&prefix), "{page}");
    page[prefix.len()..].to_owned()
}

async fn view(app: &TestApp, client: &Client, program: &str, cookie: &str, import: &str) -> Value {
    let answer = post_fields(app, client, "import_view", cookie, &[("program", program), ("import", import)]).await;
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

/// Runs what was started, as the server's import worker does.
async fn run_worker(app: &TestApp, clock: std::sync::Arc<tally_server::time::ManualClock>) {
    let points = PointsService::new(app.storage.clone(), clock);
    while points.run_next_import().await.unwrap() {}
}

async fn start(app: &TestApp, client: &Client, program: &str, cookie: &str, csrf: &str, import: &str) -> Value {
    let (status, started) =
        post_json(app, client, "start_import", cookie, &json!({"program": program, "csrf": csrf, "import": import})).await;
    assert_eq!(status, 200, "{started}");
    started
}

async fn balance(app: &TestApp, secret: &str, customer: &str) -> (i64, Value) {
    let (status, account) = app.api_get(&format!("/api/v1/customers/{customer}"), secret).await;
    assert_eq!(status, 200, "{customer}: {account}");
    (account["available"].as_i64().unwrap(), account["tiers"]["tier"]["id"].clone())
}

const FILE: &str = "customer_id,email,name,points,tier,birthday,marketing_consent\n\
    c1,ana@example.com,Ana,100,Gold,1990-02-03,yes\n\
    ,known@example.com,,70,,,\n\
    c2,not-an-email,Bo,1x,Platinum,,maybe\n\
    c1,,,5,,,\n\
    c4,,,-20,,,\n";

each_db! {
/// A file is checked first (counts, every error by line and column, nothing written), can be
/// mapped and read again, then runs once: each row one entry with source `import` and the
/// file's name, tiers from the file, refusals told by line; the same file again, or a run
/// resumed from its start, changes nothing.
#[tokio::test]
async fn an_import_is_checked_first_then_written_once(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let client = browser();
    let (mut program, secret) = app.create_program("Shop").await;
    program.settings.tiers = serde_json::from_value(json!({"tiers": [
        {"id": "silver", "name": "Silver", "threshold": 500}, {"id": "gold", "name": "Gold", "threshold": 2000}]})).unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    add_user(&app, "usr_owner", OWNER, Role::Owner, &[]).await;
    let (cookie, csrf) = sign_in(&app, &client, OWNER).await;
    let put = |id: &str, body: Value| { let app = &app; let secret = secret.clone(); let id = id.to_owned(); async move { app.api_send(Method::PUT, &format!("/api/v1/customers/{id}"), &secret, &body).await } };
    put("known", json!({"email": "Known@Example.com"})).await;
    let adjust = json!({"adjustment_id": "a1", "points": 50, "reason": "before"});
    assert_eq!(app.api_send(Method::POST, "/api/v1/customers/known/adjustments", &secret, &adjust).await.0, 201);

    let import = uploaded(&app, &client, &program.id, &cookie, &csrf, "smile-export.csv", FILE).await;
    let page = view(&app, &client, &program.id, &cookie, &import).await;
    let detail = &page["import"];
    assert_eq!((detail["status"].as_str(), detail["total_rows"].as_u64(), detail["new_customers"].as_u64(), detail["rejected_rows"].as_u64()),
        (Some("checked"), Some(3), Some(2), Some(2)), "{db:?}: {detail}");
    let errors: Vec<(u64, String)> = detail["errors"].as_array().unwrap().iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["column"].as_str().unwrap_or("").to_owned())).collect();
    assert_eq!(errors, [(4, "email".into()), (4, "points".into()), (4, "tier".into()), (4, "marketing_consent".into()), (5, "".into())], "{db:?}");
    assert_eq!(detail["errors"][4]["message"], "the same customer as line 2: one row per customer");
    assert_eq!(page["headers"][0], "customer_id");
    assert_eq!(app.api_get("/api/v1/customers/c1", &secret).await.0, 404, "{db:?}: the dry run writes nothing");

    // Setting balances refuses the negative one at the check; back to adding.
    let mapping = detail["mapping"].clone();
    let recheck = |mode: &str| json!({"program": program.id, "csrf": csrf, "import": import, "mapping": mapping, "mode": mode});
    let (status, set) = post_json(&app, &client, "recheck_import", &cookie, &recheck("set")).await;
    assert_eq!((status, set["total_rows"].as_u64()), (200, Some(2)), "{db:?}: {set}");
    assert!(set["errors"].as_array().unwrap().iter().any(|e| e["line"] == 6 && e["message"] == "a balance to set cannot be negative"));
    let (status, unmapped) = post_json(&app, &client, "recheck_import", &cookie,
        &json!({"program": program.id, "csrf": csrf, "import": import, "mapping": ["", "", "name", "points", "", "", ""], "mode": "add"})).await;
    assert_eq!(status, 422, "{db:?}: nobody named: {unmapped}");
    assert!(failure(&unmapped).contains("customer id or the email"), "{unmapped}");
    assert_eq!(post_json(&app, &client, "recheck_import", &cookie, &recheck("add")).await.0, 200);

    let started = start(&app, &client, &program.id, &cookie, &csrf, &import).await;
    assert_eq!(started["status"], "running", "{db:?}");
    run_worker(&app, clock.clone()).await;
    let done = view(&app, &client, &program.id, &cookie, &import).await["import"].clone();
    assert_eq!((done["status"].as_str(), done["done_rows"].as_u64(), done["written"].as_u64(), done["failed"].as_u64()),
        (Some("done"), Some(3), Some(2), Some(1)), "{db:?}: {done}");
    let refused = done["errors"].as_array().unwrap().iter().find(|e| e["line"] == 6).expect("c4's refusal, by line");
    assert!(refused["message"].as_str().unwrap().contains("not enough points"), "{refused}");
    assert_eq!(balance(&app, &secret, "c1").await, (100, json!("gold")), "{db:?}: the tier from the file");
    assert_eq!(balance(&app, &secret, "known").await.0, 120, "{db:?}: found by email, in any case");
    assert_eq!(app.api_get("/api/v1/customers/c4", &secret).await.0, 404, "{db:?}: the refused row wrote nothing");
    let (_, c1) = app.api_get("/api/v1/customers/c1", &secret).await;
    assert_eq!((c1["email"].as_str(), c1["name"].as_str(), c1["birthday"].as_str(), c1["marketing_consent"].as_bool()),
        (Some("ana@example.com"), Some("Ana"), Some("1990-02-03"), Some(true)), "{db:?}: {c1}");
    let (_, entries) = app.api_get("/api/v1/customers/c1/entries", &secret).await;
    let entry = &entries["entries"][0];
    assert_eq!((entry["source"].as_str(), entry["reference"].as_str(), entry["points"].as_i64()),
        (Some("import"), Some("smile-export.csv"), Some(100)), "{db:?}: {entries}");

    // The same file again: checked, run, nothing changes.
    let again = uploaded(&app, &client, &program.id, &cookie, &csrf, "smile-export (1).csv", FILE).await;
    start(&app, &client, &program.id, &cookie, &csrf, &again).await;
    run_worker(&app, clock.clone()).await;
    let twice = view(&app, &client, &program.id, &cookie, &again).await["import"].clone();
    assert_eq!((twice["written"].as_u64(), twice["unchanged"].as_u64()), (Some(0), Some(2)), "{db:?}: {twice}");
    // A run that starts over (its progress lost in a crash) writes nothing twice either.
    let points = PointsService::new(app.storage.clone(), clock.clone());
    let mut run = points.import(&program, &import).await.unwrap();
    run.done_rows = 0;
    let resumed = points.run_import(&program, run).await.unwrap();
    assert_eq!((resumed.status, resumed.unchanged), (ImportStatus::Done, 2), "{db:?}");
    assert_eq!(balance(&app, &secret, "c1").await.0, 100, "{db:?}");
    assert_eq!(balance(&app, &secret, "known").await.0, 120, "{db:?}");
    let (status, late) = post_json(&app, &client, "recheck_import", &cookie, &recheck("set")).await;
    assert_eq!(status, 422, "{db:?}: a started import keeps its mapping: {late}");
    app.stop().await;
}
}

each_db! {
/// A file of another layout: mapped by hand once, then the next file with the same headers
/// comes mapped the same way; a large file runs in several batches with its progress; uploads
/// that cannot be read go back to the form with the reason; viewers and forged forms are
/// refused.
#[tokio::test]
async fn layouts_are_remembered_large_files_run_in_batches_and_bad_uploads_are_refused(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let client = browser();
    let (program, secret) = app.create_program("Shop").await;
    add_user(&app, "usr_owner", OWNER, Role::Owner, &[]).await;
    add_user(&app, "usr_viewer", "viewer@shop.example", Role::Viewer, std::slice::from_ref(&program.id)).await;
    let (cookie, csrf) = sign_in(&app, &client, OWNER).await;
    let rows = tally_server::points::IMPORT_BATCH * 2 + 200;
    let mut file = String::from("Kunde;Punkte;Notiz\n");
    for n in 0..rows {
        file.push_str(&format!("k-{n};{};x\n", n % 7 + 1));
    }
    let import = uploaded(&app, &client, &program.id, &cookie, &csrf, "punkte.csv", &file).await;
    let detail = view(&app, &client, &program.id, &cookie, &import).await["import"].clone();
    assert_eq!(detail["mapping"], json!(["", "", ""]), "{db:?}: unknown headers map to nothing");
    let (status, mapped) = post_json(&app, &client, "recheck_import", &cookie,
        &json!({"program": program.id, "csrf": csrf, "import": import, "mapping": ["customer_id", "points", ""], "mode": "add"})).await;
    assert_eq!((status, mapped["total_rows"].as_u64()), (200, Some(rows as u64)), "{db:?}: {mapped}");
    start(&app, &client, &program.id, &cookie, &csrf, &import).await;
    run_worker(&app, clock.clone()).await;
    let done = view(&app, &client, &program.id, &cookie, &import).await["import"].clone();
    assert_eq!((done["done_rows"].as_u64(), done["written"].as_u64()), (Some(rows as u64), Some(rows as u64)), "{db:?}");
    assert_eq!(balance(&app, &secret, "k-1199").await.0, (1199 % 7 + 1) as i64, "{db:?}: the last batch's last row");

    let next = uploaded(&app, &client, &program.id, &cookie, &csrf, "punkte-2.csv", "Kunde;Punkte;Notiz\nk-1;5;y\n").await;
    let detail = view(&app, &client, &program.id, &cookie, &next).await["import"].clone();
    assert_eq!(detail["mapping"], json!(["customer_id", "points", ""]), "{db:?}: the layout's mapping");

    let back = |answer: &reqwest::Response| location(answer).rsplit_once("upload_error=").map(|(_, code)| code.to_owned());
    let none = upload(&app, &client, &program.id, &cookie, &csrf, "", b"").await;
    assert_eq!(back(&none).as_deref(), Some("no_file"), "{db:?}");
    let latin1 = upload(&app, &client, &program.id, &cookie, &csrf, "x.csv", b"customer_id,points\nj\xf6rg,5\n").await;
    assert_eq!(back(&latin1).as_deref(), Some("not_text"), "{db:?}");
    let empty = upload(&app, &client, &program.id, &cookie, &csrf, "x.csv", b"\n\n").await;
    assert_eq!(back(&empty).as_deref(), Some("not_csv"), "{db:?}");
    let forged = upload(&app, &client, &program.id, &cookie, "not-the-token", "x.csv", b"customer_id,points\nz,5\n").await;
    assert_eq!(forged.status(), 403, "{db:?}");
    let (viewer, viewer_csrf) = sign_in(&app, &client, "viewer@shop.example").await;
    let viewing = upload(&app, &client, &program.id, &viewer, &viewer_csrf, "x.csv", b"customer_id,points\nz,5\n").await;
    assert_eq!(viewing.status(), 403, "{db:?}");
    let (status, _) = post_json(&app, &client, "start_import", &viewer, &json!({"program": program.id, "csrf": viewer_csrf, "import": next})).await;
    assert_eq!(status, 403, "{db:?}");
    assert_eq!(app.api_get("/api/v1/customers/z", &secret).await.0, 404, "{db:?}");
    let page = client.get(app.url(&format!("/admin/programs/{}/imports/{next}", program.id))).header(header::COOKIE, &cookie).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("punkte-2.csv") && html.contains("Import 1 row<"), "the page renders the file: {html}");
    app.stop().await;
}
}
