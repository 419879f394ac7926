//! Two Tally processes on one PostgreSQL database, as behind a load balancer: concurrent
//! redemptions spread over both never overspend, and a replay on the other replica is a replay.

use crate::common::{fresh_database, start_tally, Db};
use serde_json::{json, Value};
use tally_server::{ledger::Timestamp, programs::Program};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_one_ledger_without_overspending() {
    let database_url = fresh_database(Db::Postgres).await;
    let args = ["serve", "--listen", "127.0.0.1:0", "--database-url", &database_url, "--upkeep-interval", "0"];
    // Both start together: migrations take turns under sqlx's advisory lock.
    let (first, second) = (start_tally(&args, &[]), start_tally(&args, &[]));
    let replicas = [format!("http://{}", first.addr), format!("http://{}", second.addr)];

    let storage = crate::common::connect(&database_url).await;
    let (program, key, secret) = Program::create("Shop", "USD", "points", vec![]).unwrap();
    storage.create_program(&program, &key, Timestamp(0)).await.unwrap();
    let client = crate::common::client_builder().build().unwrap();
    let post =
        |base: &str, path: &str, body: Value| client.post(format!("{base}{path}")).bearer_auth(&secret).json(&body);

    let grant = json!({"adjustment_id": "grant", "points": 100, "reason": "stock"});
    client
        .put(format!("{}/api/v1/customers/ana", replicas[0]))
        .bearer_auth(&secret)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        post(&replicas[0], "/api/v1/customers/ana/adjustments", grant.clone()).send().await.unwrap().status(),
        201
    );
    let replay = post(&replicas[1], "/api/v1/customers/ana/adjustments", grant).send().await.unwrap();
    assert_eq!(replay.status(), 200, "the other replica sees the first write's client id");

    let reward = json!({"name": "Sticker", "reward": {"type": "free_shipping"}, "points": 10});
    let reward: Value = post(&replicas[1], "/api/v1/rewards", reward).send().await.unwrap().json().await.unwrap();
    let handles: Vec<_> = (0..64)
        .map(|n| {
            let request = post(
                &replicas[n % 2],
                "/api/v1/customers/ana/redemptions",
                json!({"redemption_id": format!("r{n}"), "reward_id": reward["id"]}),
            );
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap());
    }
    let applied = statuses.iter().filter(|&&s| s == 201).count();
    let refused = statuses.iter().filter(|&&s| s == 422).count();
    assert_eq!((applied, refused), (10, 54), "{statuses:?}");
    let customer: Value = client
        .get(format!("{}/api/v1/customers/ana", replicas[1]))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(customer["available"], 0);
}
