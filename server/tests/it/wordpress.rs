//! The WordPress plugin (`integrations/woocommerce/`): its php-cli tests run the plugin's own code
//! against this real server, on both databases. They save its settings, connect the store (a
//! connection here and a WooCommerce REST v3 webhook per topic in a fake of WooCommerce's
//! endpoint that checks requests as WooCommerce's controller does), sign a shopper's token that
//! the widget API must accept, and deliver WooCommerce's documented order through the webhook
//! the plugin made. Here the delivery is applied and the shopper's points read with that token.

use std::{path::PathBuf, sync::Arc};

use serde_json::Value;

use crate::common::{fresh_database, spawn_app_with_clock};
use tally_server::{
    customers::CustomerId,
    time::{Clock, SystemClock},
};

const ORIGIN: &str = "https://shop.example";

fn php() -> String {
    std::env::var("TALLY_PHP").unwrap_or_else(|_| "php".to_owned())
}

each_db! {
#[tokio::test]
async fn the_wordpress_plugin_connects_the_store_and_signs_shoppers_in(db: Db) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = spawn_app_with_clock(fresh_database(db).await, clock.clone()).await;
    let (mut program, secret) = app.create_program("Shop").await;
    program.allowed_origins = vec![ORIGIN.to_owned()];
    program.settings.actions =
        serde_json::from_value(serde_json::json!([{"action": "referral", "points": 500, "referred_points": 100}])).unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    // Customer 7 shared a link; customer 25 came by it and orders.
    let referrer = CustomerId::parse("7").unwrap();
    let code = app.storage.save_referral_code(&program.id, &referrer, "REFER777", clock.now()).await.unwrap();
    assert_eq!(code.as_deref(), Some("REFER777"));

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = std::process::Command::new(php());
    command
        .arg(root.join("integrations/woocommerce/tests/run.php"))
        .env("TALLY_URL", app.url(""))
        .env("TALLY_API_KEY", &secret)
        .env("TALLY_WIDGET_SECRET", &program.widget_secret)
        .env("TALLY_ORIGIN", ORIGIN)
        .env("TALLY_REFERRAL_CODE", "REFER777")
        .env("TALLY_ORDER_FIXTURE", root.join("server/tests/fixtures/woocommerce/order.json"));
    // The server answers on this runtime's thread: the tests run beside it.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("{} runs (scripts/bootstrap installs php-cli): {error}", php()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the plugin's tests pass ({db:?}):\n{stdout}");
    assert_eq!(stdout.lines().filter(|line| line.starts_with("ok ")).count(), 15, "every check ran:\n{stdout}");

    let result: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let token = result["token"].as_str().unwrap();
    app.apply_inbox(clock).await;
    let available = app.available(&secret, "25").await.expect("the delivered order made customer 25");
    assert!(available > 100, "{db:?}: the order earned points and the friend's award ({available})");
    let referral = app.storage.referral(&program.id, &CustomerId::parse("25").unwrap()).await.unwrap().unwrap();
    assert_eq!((referral.referrer_id.as_str(), referral.channel.as_str()), ("7", "woocommerce"), "{db:?}");
    assert_eq!(app.available(&secret, "7").await, Some(500), "{db:?}: the referrer earned on the friend's first order");
    let me: Value = app
        .client
        .get(app.url(&format!("/widget/v1/programs/{}/me", program.publishable_key)))
        .header("Origin", ORIGIN)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["available"].as_i64(), Some(available), "{db:?}: the plugin's token reads the shopper's points: {me}");
    let (_, connections) = app.api_get("/api/v1/connections", &secret).await;
    assert_eq!(connections[0]["deliveries"][0]["topic"], "order.created", "{connections}");
    app.stop().await;
}
}
