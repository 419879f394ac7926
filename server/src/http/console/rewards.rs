//! The console's rewards page: the catalog, and creating, editing and (de)activating rewards
//! with the REST API's domain validation ([`Reward::validated`]), every change audited.

use tally_app::console::{
    i18n::trf,
    model::{ConsoleError, RewardForm, RewardRow, RewardsBoard},
    money::{format_amount, parse_amount},
    rewards::describe_reward,
    rewards::RewardConsole,
};

use super::{customers::program_header, invalid, invalid_text, signed_in_user, unavailable, ConsoleService};
use crate::{
    console_users::ConsoleUser,
    message::message,
    programs::Program,
    rewards::{new_reward_id, Reward, RewardDefinition, RewardError, RewardKind},
};

/// The form's view of a stored reward.
fn form_of(reward: &Reward, currency: &str) -> RewardForm {
    let definition = &reward.definition;
    let optional = |value: Option<i64>| value.map(|value| value.to_string()).unwrap_or_default();
    let mut form = RewardForm {
        reward_id: Some(reward.id.clone()),
        name: definition.name.clone(),
        description: definition.description.clone().unwrap_or_default(),
        points: definition.points.to_string(),
        min_tier: definition.min_tier.clone().unwrap_or_default(),
        per_customer_limit: optional(definition.per_customer_limit.map(i64::from)),
        coupon_valid_days: definition.coupon_valid_days.to_string(),
        stock: optional(definition.stock),
        active: definition.active,
        ..RewardForm::default()
    };
    match &definition.reward {
        RewardKind::AmountOff { amount } => {
            form.kind = "amount_off".into();
            form.amount = format_amount(*amount, currency);
        }
        RewardKind::PercentOff { percent } => {
            form.kind = "percent_off".into();
            form.percent = percent.to_string();
        }
        RewardKind::FreeShipping => form.kind = "free_shipping".into(),
        RewardKind::FreeProduct { product_id } => {
            form.kind = "free_product".into();
            form.product_id = product_id.clone();
        }
        RewardKind::PointsToCurrency { points_per_unit, unit_value, min_points, max_points, step } => {
            form.kind = "points_to_currency".into();
            form.points_per_unit = points_per_unit.to_string();
            form.unit_value = format_amount(*unit_value, currency);
            form.min_points = min_points.to_string();
            form.max_points = max_points.to_string();
            form.step = step.to_string();
        }
    }
    form
}

fn row_of(reward: &Reward, currency: &str) -> RewardRow {
    let form = form_of(reward, currency);
    let cost = match &reward.definition.reward {
        RewardKind::PointsToCurrency { min_points, max_points, .. } => format!("{min_points}–{max_points}"),
        _ => reward.definition.points.to_string(),
    };
    RewardRow {
        id: reward.id.clone(),
        gives: describe_reward(&form, currency).unwrap_or_default(),
        cost,
        stock: reward.definition.stock,
        active: reward.definition.active,
        form,
    }
}

/// The definition a form describes; dates (not on the form) are kept from `existing`.
fn definition_of(
    form: &RewardForm,
    currency: &str,
    existing: Option<&RewardDefinition>,
) -> Result<RewardDefinition, ConsoleError> {
    fn number<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, ConsoleError> {
        text.trim().replace(',', "").parse().map_err(|_| invalid(field, message!("a whole number")))
    }
    fn optional<T: std::str::FromStr>(field: &str, text: &str) -> Result<Option<T>, ConsoleError> {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            number(field, text).map(Some)
        }
    }
    let money = |field: &str, text: &str| parse_amount(text, currency).map_err(|message| invalid_text(field, message));
    let reward = match form.kind.as_str() {
        "amount_off" => RewardKind::AmountOff { amount: money("amount", &form.amount)? },
        "percent_off" => RewardKind::PercentOff { percent: number("percent", &form.percent)? },
        "free_shipping" => RewardKind::FreeShipping,
        "free_product" => RewardKind::FreeProduct { product_id: form.product_id.trim().to_owned() },
        "points_to_currency" => RewardKind::PointsToCurrency {
            points_per_unit: number("points_per_unit", &form.points_per_unit)?,
            unit_value: money("unit_value", &form.unit_value)?,
            min_points: number("min_points", &form.min_points)?,
            max_points: number("max_points", &form.max_points)?,
            step: number("step", &form.step)?,
        },
        _ => {
            return Err(invalid(
                "kind",
                message!("amount_off, percent_off, free_shipping, free_product or points_to_currency"),
            ))
        }
    };
    let points = match reward {
        RewardKind::PointsToCurrency { .. } => 0,
        _ => number("points", &form.points)?,
    };
    let description = form.description.trim();
    Ok(RewardDefinition {
        name: form.name.trim().to_owned(),
        description: (!description.is_empty()).then(|| description.to_owned()),
        reward,
        points,
        min_tier: (!form.min_tier.is_empty()).then(|| form.min_tier.clone()),
        per_customer_limit: optional("per_customer_limit", &form.per_customer_limit)?,
        starts_at: existing.and_then(|definition| definition.starts_at),
        ends_at: existing.and_then(|definition| definition.ends_at),
        coupon_valid_days: optional("coupon_valid_days", &form.coupon_valid_days)?.unwrap_or(30),
        stock: optional("stock", &form.stock)?,
        active: form.active,
    })
}

/// A domain refusal, named by the form's field (`reward.amount` is the form's `amount`).
fn refused(error: RewardError) -> ConsoleError {
    match error {
        RewardError::Invalid { field, message } => invalid(field.trim_start_matches("reward."), message),
        other => invalid("points", other.message()),
    }
}

impl ConsoleService {
    async fn existing_reward(&self, program: &Program, reward_id: &str) -> Result<Reward, ConsoleError> {
        self.0
            .storage
            .reward(&program.id, reward_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ConsoleError::NotFound(trf("No reward {0} in this program.", &[&reward_id])))
    }

    /// Writes the reward (new when there is no `before`) with its audit entry.
    async fn store_reward(
        &self,
        user: &ConsoleUser,
        program: &Program,
        before: Option<&Reward>,
        reward: &Reward,
    ) -> Result<(), ConsoleError> {
        let now = self.0.clock.now();
        let storage = self.0.storage.as_ref();
        let action = match before.map(|before| (before.definition.active, reward.definition.active)) {
            None => "reward.create",
            Some((true, false)) => "reward.deactivate",
            Some((false, true)) => "reward.activate",
            Some(_) => "reward.update",
        };
        let snapshot = |reward: &Reward| serde_json::to_value(reward).ok();
        let audit =
            self.audit_entry(user, Some(program), action, &reward.id, before.and_then(snapshot), snapshot(reward));
        if before.is_none() {
            storage.create_reward(&program.id, reward, now, Some(&audit)).await.map_err(unavailable)?;
        } else if !storage.update_reward(&program.id, reward, now, Some(&audit)).await.map_err(unavailable)? {
            return Err(ConsoleError::NotFound(trf("No reward {0} in this program.", &[&reward.id])));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl RewardConsole for ConsoleService {
    async fn rewards(&self, token: Option<&str>, program_id: &str) -> Result<RewardsBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let rewards = self.0.storage.rewards(&program.id).await.map_err(unavailable)?;
        Ok(RewardsBoard {
            user: signed_in_user(&session, &user),
            currency: program.currency.clone(),
            tiers: program.settings.tiers.tiers.iter().map(|tier| (tier.id.clone(), tier.name.clone())).collect(),
            rewards: rewards.iter().map(|reward| row_of(reward, &program.currency)).collect(),
            program: program_header(self.0.storage.as_ref(), &program).await?,
        })
    }
    async fn save_reward(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: RewardForm,
    ) -> Result<RewardRow, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let existing = match form.reward_id.as_deref() {
            Some(id) => Some(self.existing_reward(&program, id).await?),
            None => None,
        };
        let definition = definition_of(&form, &program.currency, existing.as_ref().map(|reward| &reward.definition))?;
        let id = existing.as_ref().map_or_else(new_reward_id, |reward| reward.id.clone());
        let reward = Reward::validated(id, definition, &program.settings.tiers).map_err(refused)?;
        self.store_reward(&user, &program, existing.as_ref(), &reward).await?;
        Ok(row_of(&reward, &program.currency))
    }
    async fn set_reward_active(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        reward_id: &str,
        active: bool,
    ) -> Result<RewardRow, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let before = self.existing_reward(&program, reward_id).await?;
        let mut reward = before.clone();
        reward.definition.active = active;
        self.store_reward(&user, &program, Some(&before), &reward).await?;
        Ok(row_of(&reward, &program.currency))
    }
}
