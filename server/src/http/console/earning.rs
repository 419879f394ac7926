//! The console's earning rules page: the purchase rule and action rules, checked by
//! [`Program::update`] like the REST API, and previewed with [`PurchaseRule::points_for`], the
//! function that computes real orders' points.

use serde_json::json;
use tally_app::console::{
    earning::EarningConsole,
    i18n::{t, tr, trf},
    model::{ActionRuleForm, ConsoleError, EarningBoard, EarningForm},
    money::{format_amount, format_money, parse_amount},
};

use super::{customers::program_header, invalid, invalid_text, signed_in_user, ConsoleService};
use crate::{
    message::{message, FieldError},
    programs::Program,
    rules::{ActionRule, Cap, Multiplier, Order, PurchaseRule, Rounding},
    time::Period,
};

const PERIODS: [(Period, &str); 5] = [
    (Period::Day, "day"),
    (Period::Week, "week"),
    (Period::Month, "month"),
    (Period::Year, "year"),
    (Period::Lifetime, "lifetime"),
];

fn multipliers_text(multipliers: &[Multiplier]) -> String {
    multipliers.iter().map(|m| format!("{} = {}", m.id, m.percent)).collect::<Vec<_>>().join("\n")
}

fn form_of(program: &Program) -> EarningForm {
    let rule = &program.settings.purchase;
    let currency = &program.currency;
    EarningForm {
        points: rule.points.to_string(),
        per_amount: format_amount(rule.per_amount, currency),
        rounding: match rule.rounding {
            Rounding::Floor => "floor",
            Rounding::Round => "round",
            Rounding::Ceil => "ceil",
        }
        .into(),
        include_shipping: rule.include_shipping,
        include_tax: rule.include_tax,
        subtract_discount: rule.subtract_discount,
        minimum_order: format_amount(rule.minimum_order, currency),
        product_multipliers: multipliers_text(&rule.product_multipliers),
        category_multipliers: multipliers_text(&rule.category_multipliers),
        actions: program
            .settings
            .actions
            .iter()
            .map(|rule| ActionRuleForm {
                action: rule.action.clone(),
                points: rule.points.to_string(),
                referred_points: rule.referred_points.map(|points| points.to_string()).unwrap_or_default(),
                cap_count: rule.cap.map(|cap| cap.count.to_string()).unwrap_or_default(),
                cap_per: rule
                    .cap
                    .and_then(|cap| PERIODS.iter().find(|(period, _)| *period == cap.per))
                    .map(|(_, name)| (*name).to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// `id = percent` lines.
fn multipliers_of(field: &str, text: &str) -> Result<Vec<Multiplier>, ConsoleError> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (id, percent) =
                line.split_once('=').ok_or_else(|| invalid(field, message!("one “id = percent” per line")))?;
            let percent = percent
                .trim()
                .parse()
                .map_err(|_| invalid(field, message!("the percent is a whole number, e.g. 200")))?;
            Ok(Multiplier { id: id.trim().to_owned(), percent })
        })
        .collect()
}

fn action_of(index: usize, form: &ActionRuleForm) -> Result<ActionRule, ConsoleError> {
    let field = |name: &str| format!("actions[{index}].{name}");
    let number = |name: &str, text: &str| -> Result<i64, ConsoleError> {
        text.trim().parse().map_err(|_| invalid(&field(name), message!("a whole number")))
    };
    let cap = match (form.cap_count.trim(), form.cap_per.as_str()) {
        ("", _) | (_, "") => None,
        (count, per) => Some(Cap {
            count: count.parse().map_err(|_| invalid(&field("cap_count"), message!("a whole number")))?,
            per: PERIODS
                .iter()
                .find(|(_, name)| *name == per)
                .map(|(period, _)| *period)
                .ok_or_else(|| invalid(&field("cap_per"), message!("day, week, month, year or lifetime")))?,
        }),
    };
    Ok(ActionRule {
        action: form.action.trim().to_owned(),
        points: number("points", &form.points)?,
        referred_points: match form.referred_points.trim() {
            "" => None,
            text => Some(number("referred_points", text)?),
        },
        cap,
    })
}

/// Applies the form to the program; errors name the form's fields.
fn apply(program: &mut Program, form: &EarningForm) -> Result<(), ConsoleError> {
    let currency = program.currency.clone();
    let money = |field: &str, text: &str| parse_amount(text, &currency).map_err(|message| invalid_text(field, message));
    let purchase = PurchaseRule {
        points: form.points.trim().parse().map_err(|_| invalid("points", message!("a whole number")))?,
        per_amount: money("per_amount", &form.per_amount)?,
        rounding: match form.rounding.as_str() {
            "floor" => Rounding::Floor,
            "round" => Rounding::Round,
            "ceil" => Rounding::Ceil,
            _ => return Err(invalid("rounding", message!("floor, round or ceil"))),
        },
        include_shipping: form.include_shipping,
        include_tax: form.include_tax,
        subtract_discount: form.subtract_discount,
        minimum_order: money("minimum_order", &form.minimum_order)?,
        product_multipliers: multipliers_of("product_multipliers", &form.product_multipliers)?,
        category_multipliers: multipliers_of("category_multipliers", &form.category_multipliers)?,
    };
    let actions =
        form.actions.iter().enumerate().map(|(index, rule)| action_of(index, rule)).collect::<Result<_, _>>()?;
    let mut settings = program.settings.clone();
    settings.purchase = purchase;
    settings.actions = actions;
    let (name, points_name, origins) =
        (program.name.clone(), program.points_name.clone(), program.allowed_origins.clone());
    program.update(&name, &points_name, origins, settings).map_err(|FieldError { field, message }| {
        let field = field.trim_start_matches("settings.");
        let field = field.strip_prefix("purchase.").unwrap_or(field);
        invalid(if field.starts_with("multipliers") { "product_multipliers" } else { field }, message)
    })
}

/// What the program's rules give, in sentences.
fn preview(program: &Program, sample: &str) -> Result<Vec<String>, ConsoleError> {
    let (currency, points_name) = (&program.currency, &program.points_name);
    let amount = parse_amount(sample, currency).map_err(|message| invalid_text("sample", message))?;
    let order = Order { subtotal: amount, shipping: 0, tax: 0, discount: 0, lines: Vec::new() };
    let rule = &program.settings.purchase;
    let base = rule.points_for(&order, 100, 100).points;
    // In the language of the page asking (the server call's request says which).
    let mut first = trf("An order of {0} earns {1} {2}", &[&format_money(amount, currency), &base, points_name]);
    for tier in &program.settings.tiers.tiers {
        if tier.multiplier_percent != 100 {
            let points = rule.points_for(&order, tier.multiplier_percent, 100).points;
            first.push_str(&trf("; {0} at {1}", &[&points, &tier.name]));
        }
    }
    first.push_str(tr("."));
    let mut lines = vec![first];
    if rule.minimum_order > 0 {
        lines.push(trf("Orders under {0} earn nothing.", &[&format_money(rule.minimum_order, currency)]));
    }
    for action in &program.settings.actions {
        let cap = action.effective_cap().map(|cap| {
            let template = match cap.per {
                Period::Day => t(" (at most {0} per day)"),
                Period::Week => t(" (at most {0} per week)"),
                Period::Month => t(" (at most {0} per month)"),
                Period::Year => t(" (at most {0} per year)"),
                Period::Lifetime => t(" (at most {0} ever)"),
            };
            trf(template, &[&cap.count])
        });
        let referred = action
            .referred_points
            .map(|points| trf("; the new customer gets {0} on their first order", &[&points]))
            .unwrap_or_default();
        let (cap, points) = (cap.unwrap_or_default(), action.points);
        lines.push(trf("{0}: {1} {2}{3}{4}.", &[&action.action, &points, points_name, &cap, &referred]));
    }
    Ok(lines)
}

#[async_trait::async_trait]
impl EarningConsole for ConsoleService {
    async fn earning(&self, token: Option<&str>, program_id: &str) -> Result<EarningBoard, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        Ok(EarningBoard {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            currency: program.currency.clone(),
            form: form_of(&program),
        })
    }
    async fn save_earning(
        &self,
        token: Option<&str>,
        program_id: &str,
        csrf: &str,
        form: EarningForm,
    ) -> Result<EarningForm, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let snapshot =
            |program: &Program| json!({ "purchase": program.settings.purchase, "actions": program.settings.actions });
        let change = |program: &mut Program| apply(program, &form);
        let program = self.save_program_part(&user, &program.id, "program.earning_rules", snapshot, change).await?;
        Ok(form_of(&program))
    }
    async fn preview_earning(
        &self,
        token: Option<&str>,
        program_id: &str,
        form: EarningForm,
        sample: &str,
    ) -> Result<Vec<String>, ConsoleError> {
        let (_, user) = self.session(token).await?;
        let mut program = self.program(&user, program_id).await?;
        apply(&mut program, &form)?;
        preview(&program, sample)
    }
}
