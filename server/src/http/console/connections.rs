//! The console's connections page: store connections and webhook endpoints, each change
//! audited in its transaction (secrets never in the audit log).

use serde_json::json;
use tally_app::console::{
    connections::ConnectionsConsole,
    i18n::trf,
    model::{ConnectionsBoard, ConsoleError, DeliveryRow, EndpointRow, StoreCouponRow, StoreRow, TopicRow},
};

use super::{customers::program_header, invalid_field, signed_in_user, unavailable, ConsoleService};
use crate::{
    connections::{self, checkout, events::EventType, webhooks::EndpointRequest},
    storage::{DeliveryRecord, StoreConnection},
};

/// Deliveries shown per endpoint.
const SHOWN_DELIVERIES: u32 = 20;
/// Coupons shown per store.
const SHOWN_COUPONS: u32 = 20;

fn delivery_row(record: DeliveryRecord) -> DeliveryRow {
    DeliveryRow {
        id: record.id,
        event_type: record.event_type,
        status: record.status.as_str().to_owned(),
        attempts: record.attempts,
        response_status: record.response_status,
        latency_ms: record.latency_ms,
        last_error: record.last_error,
        created_at: record.created_at.to_string(),
    }
}

impl ConsoleService {
    async fn store_connection(&self, program_id: &str, connection_id: &str) -> Result<StoreConnection, ConsoleError> {
        let connection = self.0.storage.connection(connection_id).await.map_err(unavailable)?;
        connection
            .filter(|connection| connection.program_id == program_id)
            .ok_or_else(|| ConsoleError::NotFound(trf("No store connection {0} in this program.", &[&connection_id])))
    }
}

#[async_trait::async_trait]
impl ConnectionsConsole for ConsoleService {
    async fn connections(
        &self,
        token: Option<&str>,
        program_id: &str,
        request_origin: Option<String>,
    ) -> Result<ConnectionsBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let storage = self.0.storage.as_ref();
        let base_url = super::browser_origin(self.0.public_url.as_deref(), request_origin).unwrap_or_default();
        let mut stores = Vec::new();
        for connection in storage.connections(&program.id).await.map_err(unavailable)? {
            let topics = storage.topic_statuses(&connection.id).await.map_err(unavailable)?;
            stores.push(StoreRow {
                webhook_url: connections::store_webhook_url(&base_url, &connection),
                topics: connections::store_topics(&connection.platform).into_iter().map(str::to_owned).collect(),
                secret: if user.role.can_write() { connection.secret.clone() } else { String::new() },
                deliveries: topics
                    .into_iter()
                    .map(|topic| TopicRow {
                        topic: topic.topic,
                        deliveries: topic.deliveries,
                        ignored: topic.ignored,
                        failed: topic.failed,
                        last_received_at: topic.last_received_at.to_string(),
                        last_status: topic.last_status,
                        last_outcome: topic.last_outcome,
                    })
                    .collect(),
                api_url: connection.api.as_ref().map(|api| api.url.clone()),
                api_key: connection.api.as_ref().and_then(|api| api.key.clone()),
                coupons: storage
                    .store_coupons(&program.id, &connection.id, SHOWN_COUPONS)
                    .await
                    .map_err(unavailable)?
                    .into_iter()
                    .map(|record| StoreCouponRow {
                        code: record.coupon_code,
                        state: record.state.as_str().to_owned(),
                        attempts: record.attempts,
                        last_error: record.last_error,
                        updated_at: record.updated_at.to_string(),
                    })
                    .collect(),
                id: connection.id,
                platform: connection.platform,
            });
        }
        let mut endpoints = Vec::new();
        for endpoint in storage.endpoints(&program.id).await.map_err(unavailable)? {
            let deliveries =
                storage.deliveries(&program.id, &endpoint.id, None, SHOWN_DELIVERIES).await.map_err(unavailable)?;
            endpoints.push(EndpointRow {
                id: endpoint.id,
                url: endpoint.url,
                description: endpoint.description,
                event_types: endpoint.event_types.iter().map(|kind| kind.as_str().to_owned()).collect(),
                failing_since: endpoint.failing_since.map(|at| at.to_string()),
                deliveries: deliveries.into_iter().map(delivery_row).collect(),
            });
        }
        Ok(ConnectionsBoard {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            stores,
            endpoints,
            event_types: EventType::ALL
                .into_iter()
                .filter(|kind| *kind != EventType::WebhookTest)
                .map(|kind| kind.as_str().to_owned())
                .collect(),
        })
    }

    async fn connect_store(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        platform: &str,
    ) -> Result<(), ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let connection = connections::new_store_connection(&program.id, platform, None, self.0.clock.now())
            .map_err(invalid_field)?;
        let after = Some(json!({ "platform": connection.platform }));
        let audit = self.audit_entry(&user, Some(&program), "connection.create", &connection.id, None, after);
        self.0.storage.create_connection(&connection, Some(&audit)).await.map_err(unavailable)
    }

    async fn set_store_secret(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        connection_id: &str,
        secret: &str,
    ) -> Result<(), ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let connection = self.store_connection(&program.id, connection_id).await?;
        let secret = connections::store_secret(secret).map_err(invalid_field)?;
        // Which key, never the key.
        let audit = self.audit_entry(&user, Some(&program), "connection.secret", &connection.id, None, None);
        let saved = self.0.storage.set_connection_secret(&program.id, &connection.id, &secret, Some(&audit)).await;
        if !saved.map_err(unavailable)? {
            return Err(ConsoleError::NotFound(trf("No store connection {0} in this program.", &[&connection_id])));
        }
        Ok(())
    }

    async fn remove_store(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        connection_id: &str,
    ) -> Result<(), ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let connection = self.store_connection(&program.id, connection_id).await?;
        let before = Some(json!({ "platform": connection.platform }));
        let audit = self.audit_entry(&user, Some(&program), "connection.remove", &connection.id, before, None);
        self.0.storage.delete_connection(&program.id, &connection.id, Some(&audit)).await.map_err(unavailable)?;
        Ok(())
    }

    async fn store_api(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        connection_id: &str,
        action: &str,
        url: &str,
        key: &str,
        secret: &str,
    ) -> Result<(), ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let connection = self.store_connection(&program.id, connection_id).await?;
        let storage = self.0.storage.as_ref();
        match action {
            "save" => {
                let api = checkout::store_api(&connection.platform, url, Some(key), secret, self.0.webhook_urls)
                    .map_err(invalid_field)?;
                // Where and which key, never the secret.
                let after = Some(json!({ "url": api.url, "key": api.key }));
                let audit =
                    self.audit_entry(&user, Some(&program), "connection.store_api", &connection.id, None, after);
                storage
                    .set_store_api(&program.id, &connection.id, Some(&api), Some(&audit))
                    .await
                    .map_err(unavailable)?;
            }
            "remove" => {
                let before = connection.api.as_ref().map(|api| json!({ "url": api.url }));
                let audit = self.audit_entry(
                    &user,
                    Some(&program),
                    "connection.store_api_remove",
                    &connection.id,
                    before,
                    None,
                );
                storage.set_store_api(&program.id, &connection.id, None, Some(&audit)).await.map_err(unavailable)?;
            }
            "retry" => {
                storage
                    .retry_store_coupons(&program.id, &connection.id, self.0.clock.now())
                    .await
                    .map_err(unavailable)?;
                self.0.points.wake_outbox();
            }
            _ => return Err(ConsoleError::NotFound(trf("No action {0}.", &[&action]))),
        }
        Ok(())
    }

    async fn add_endpoint(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        url: &str,
        event_types: Vec<String>,
    ) -> Result<(), ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let request = EndpointRequest { url: url.to_owned(), description: String::new(), event_types, disabled: false };
        let endpoint =
            request.validated(&program.id, self.0.webhook_urls, self.0.clock.now()).map_err(invalid_field)?;
        let types: Vec<&str> = endpoint.event_types.iter().map(|kind| kind.as_str()).collect();
        let after = Some(json!({ "url": endpoint.url, "event_types": types }));
        let audit = self.audit_entry(&user, Some(&program), "webhook.create", &endpoint.id, None, after);
        self.0.storage.create_endpoint(&endpoint, Some(&audit)).await.map_err(unavailable)
    }

    async fn endpoint_action(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        endpoint_id: &str,
        action: &str,
    ) -> Result<(), ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let storage = self.0.storage.as_ref();
        let not_found = || ConsoleError::NotFound(trf("No webhook endpoint {0} in this program.", &[&endpoint_id]));
        let endpoint = storage.endpoint(&program.id, endpoint_id).await.map_err(unavailable)?.ok_or_else(not_found)?;
        let now = self.0.clock.now();
        match action {
            "test" => {
                let event = connections::webhooks::test_event(&program.id, &endpoint.id, now);
                storage.append_test_event(&event, &endpoint.id).await.map_err(unavailable)?;
            }
            "resend" => {
                storage.resend_deliveries(&program.id, &endpoint.id, None, now).await.map_err(unavailable)?;
            }
            "remove" => {
                let before = Some(json!({ "url": endpoint.url }));
                let audit = self.audit_entry(&user, Some(&program), "webhook.remove", &endpoint.id, before, None);
                if !storage.delete_endpoint(&program.id, &endpoint.id, Some(&audit)).await.map_err(unavailable)? {
                    return Err(not_found());
                }
            }
            _ => return Err(ConsoleError::NotFound(trf("No action {0}.", &[&action]))),
        }
        self.0.points.wake_outbox();
        Ok(())
    }
}
