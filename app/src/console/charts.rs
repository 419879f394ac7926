//! Charts as plain SVG, drawn on the server: readable without JavaScript, with a title, axes
//! and labels, and a table-like `<title>` on every bar for screen readers and tooltips.

use leptos::prelude::*;

use super::i18n::{lang, Lang};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// A round number at or above `max`, and the step of its four gridlines.
pub fn axis_scale(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let rough = (max as f64 / 4.0).ceil();
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|step| *step >= rough).unwrap_or(rough);
    let step = step.max(1.0) as i64;
    (step * 4, step)
}

/// Grouped bars: for each label, one bar per series. `series` is `(name, css class, values)`,
/// the name in the page's language.
#[component]
pub fn BarChart(
    title: String,
    labels: Vec<String>,
    series: Vec<(&'static str, &'static str, Vec<i64>)>,
) -> impl IntoView {
    let max = series.iter().flat_map(|(_, _, values)| values.iter().copied()).max().unwrap_or(0);
    let (top, step) = axis_scale(max);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let groups = labels.len().max(1) as f64;
    let group_width = plot_width / groups;
    let bar_width = (group_width * 0.8 / series.len().max(1) as f64).max(1.0);
    let y = move |value: i64| TOP + plot_height - plot_height * value as f64 / top as f64;
    // Label at most ~12 buckets so that the text never overlaps.
    let label_every = labels.len().div_ceil(12).max(1);
    let gridlines = (0..=4)
        .map(|index| {
            let value = step * index;
            let at = y(value);
            view! {
                <line class="grid" x1=LEFT x2=WIDTH - RIGHT y1=at y2=at/>
                <text class="tick" x=LEFT - 6.0 y=at + 4.0 text-anchor="end">{format_number(value)}</text>
            }
        })
        .collect_view();
    let bars = labels
        .iter()
        .enumerate()
        .map(|(index, label)| {
            let group_x = LEFT + group_width * index as f64 + group_width * 0.1;
            let bars = series
                .iter()
                .enumerate()
                .map(|(position, (name, class, values))| {
                    let value = values.get(index).copied().unwrap_or(0).max(0);
                    let top_y = y(value);
                    view! {
                        <rect class=*class x=group_x + bar_width * position as f64 y=top_y width=bar_width
                            height=(TOP + plot_height - top_y).max(0.0)>
                            <title>{format!("{label}: {} {name}", format_number(value))}</title>
                        </rect>
                    }
                })
                .collect_view();
            let text = (index % label_every == 0).then(|| {
                view! {
                    <text class="tick" x=group_x + group_width * 0.4 y=HEIGHT - BOTTOM + 16.0 text-anchor="middle">
                        {short_date(label)}
                    </text>
                }
            });
            view! { <g>{bars}{text}</g> }
        })
        .collect_view();
    let legend = series
        .iter()
        .enumerate()
        .map(|(index, (name, class, _))| {
            let x = LEFT + 140.0 * index as f64;
            view! {
                <rect class=*class x=x y=HEIGHT - 14.0 width=10 height=10/>
                <text class="legend" x=x + 14.0 y=HEIGHT - 5.0>{*name}</text>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title>
                {gridlines}
                <line class="axis" x1=LEFT x2=LEFT y1=TOP y2=TOP + plot_height/>
                <line class="axis" x1=LEFT x2=WIDTH - RIGHT y1=TOP + plot_height y2=TOP + plot_height/>
                {bars}
                {legend}
            </svg>
        </figure>
    }
}

/// One horizontal bar per row, longest first, with its value at the end.
#[component]
pub fn HorizontalBars(title: String, rows: Vec<(String, i64)>) -> impl IntoView {
    let max = rows.iter().map(|(_, value)| *value).max().unwrap_or(0).max(1);
    let row_height = 28.0;
    let label_width = 150.0;
    let height = TOP + row_height * rows.len().max(1) as f64 + 8.0;
    let bar_space = WIDTH - label_width - 90.0;
    let bars = rows
        .into_iter()
        .enumerate()
        .map(|(index, (label, value))| {
            let y = TOP + row_height * index as f64;
            let width = (bar_space * value.max(0) as f64 / max as f64).max(1.0);
            view! {
                <text class="tick" x=label_width - 8.0 y=y + 17.0 text-anchor="end">{label.clone()}</text>
                <rect class="bar-earned" x=label_width y=y + 4.0 width=width height=row_height - 10.0>
                    <title>{format!("{label}: {}", format_number(value))}</title>
                </rect>
                <text class="value" x=label_width + width + 6.0 y=y + 17.0>{format_number(value)}</text>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>{title.clone()}</figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {height}") role="img" aria-label=title>
                <line class="axis" x1=label_width x2=label_width y1=TOP - 4.0 y2=height - 4.0/>
                {bars}
            </svg>
        </figure>
    }
}

/// `1234567` as `1,234,567`.
pub fn format_number(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `2026-11-05` as `Nov 5` (`11월 5일`, `11月5日`, `5 Nov`).
fn short_date(date: &str) -> String {
    short_date_in(lang(), date)
}

fn short_date_in(lang: Lang, date: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const BULAN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"];
    let mut parts = date.split('-').skip(1);
    match (parts.next().and_then(|m| m.parse::<usize>().ok()), parts.next().and_then(|d| d.parse::<u32>().ok())) {
        (Some(month @ 1..=12), Some(day)) => match lang {
            Lang::En => format!("{} {day}", MONTHS[month - 1]),
            Lang::Ko => format!("{month}월 {day}일"),
            Lang::Ja | Lang::Zh => format!("{month}月{day}日"),
            Lang::Id => format!("{day} {}", BULAN[month - 1]),
        },
        _ => date.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(axis_scale(0), (4, 1));
        assert_eq!(axis_scale(7), (8, 2));
        assert_eq!(axis_scale(1_234), (2_000, 500));
        assert_eq!(axis_scale(90_000), (100_000, 25_000));
    }

    #[test]
    fn numbers_and_dates_read_well() {
        assert_eq!(format_number(1_234_567), "1,234,567");
        assert_eq!(format_number(-1_000), "-1,000");
        assert_eq!(format_number(999), "999");
        assert_eq!(short_date_in(Lang::En, "2026-11-05"), "Nov 5");
        assert_eq!(short_date_in(Lang::Ko, "2026-11-05"), "11월 5일");
        assert_eq!(short_date_in(Lang::Zh, "2026-11-05"), "11月5日");
        assert_eq!(short_date_in(Lang::Id, "2026-08-17"), "17 Agu");
    }
}
