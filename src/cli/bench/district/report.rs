//! The year as one HTML page a street office can open without a network: the table, then
//! charts drawn as inline SVG (requests per day, the open backlog, warnings, breaches and
//! escalations per week, 及时率 and 满意率 per community, timer firings per minute of the
//! run). Chinese first, English beside.

use std::fmt::Write;

use super::{Year, figures, on_time};

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 220.0;
const PAD: f64 = 44.0;
const BLUE: &str = "#2b6cb0";
const ORANGE: &str = "#dd6b20";
const RED: &str = "#c53030";
const PURPLE: &str = "#6b46c1";
const GREEN: &str = "#2f855a";

pub fn html(year: &Year, database: &str) -> String {
    let t = &year.street;
    let per_day: Vec<f64> = t.per_day.iter().map(|n| f64::from(*n)).collect();
    let backlog: Vec<f64> = t.backlog.iter().map(|n| f64::from(*n)).collect();
    let weekly = |i: usize| -> Vec<f64> { t.weekly.iter().map(|w| f64::from(w[i])).collect() };
    let firing_rate: Vec<f64> = year.firing_rate.iter().map(|(_, r)| *r).collect();
    let first = year.first_day;
    let mut page = String::new();
    let _ = write!(
        page,
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>街道服务年度模拟 · A street's year</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", system-ui, sans-serif; margin: 2rem auto; max-width: 900px; color: #1a202c; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; width: 100%; font-size: .9rem; }}
th, td {{ border-bottom: 1px solid #e2e8f0; padding: .3rem .5rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.en {{ color: #718096; font-weight: normal; }}
.fail {{ color: {RED}; }}
svg text {{ font-size: 11px; fill: #4a5568; }}
</style></head><body>
<h1>街道服务年度模拟 <span class="en">A street's year, simulated</span></h1>
<p>{communities} 个社区，{days} 天，自 {first} 起；{database}，{nodes} 个节点。共 {requests} 件诉求、{transitions} 次办理、{firings} 次定时触发，用时 {wall:.1} 秒。
<span class="en">{communities} communities, {days} days from {first}; {database}, {nodes} node(s). {requests} requests, {transitions} transitions, {firings} timer firings in {wall:.1} s of wall time.</span></p>
"#,
        communities = year.communities.len(),
        days = year.days,
        nodes = year.nodes,
        requests = t.requests,
        transitions = t.transitions,
        firings = t.firings,
        wall = year.wall.as_secs_f64(),
    );
    if year.problems.is_empty() {
        page.push_str("<p>核对全部通过 <span class=\"en\">Every check passed: the figures equal a count from the events, every request equals its replay, every timer fired once at its instant, no request is stuck.</span></p>\n");
    } else {
        let _ = writeln!(
            page,
            "<p class=\"fail\">核对发现 {} 个问题 <span class=\"en\">{} problems found; the run's table lists them.</span></p>",
            year.problems.len(),
            year.problems.len()
        );
    }
    page.push_str("<h2>各社区年度指标 <span class=\"en\">The year's figures by community</span></h2>\n<table><tr><th>社区 <span class=\"en\">community</span></th><th>诉求 <span class=\"en\">requests</span></th><th>办结 <span class=\"en\">closed</span></th><th>响应及时率 <span class=\"en\">on time, response</span></th><th>办结及时率 <span class=\"en\">on time, resolution</span></th><th>满意率 <span class=\"en\">satisfied</span></th><th>服务时长 <span class=\"en\">hours</span></th></tr>\n");
    let rows = year
        .communities
        .iter()
        .map(String::as_str)
        .zip(&year.stats)
        .chain(std::iter::once(("全街道 the street", &year.street_stats)));
    for (name, s) in rows {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(name),
            figures(s).join("</td><td>")
        );
    }
    page.push_str("</table>\n");
    page.push_str(&chart(
        "每日诉求 <span class=\"en\">Requests per day</span>",
        "天 day",
        &[("诉求 requests", BLUE, &per_day)],
    ));
    page.push_str(&chart(
        "未办结 <span class=\"en\">Open backlog at the end of each day</span>",
        "天 day",
        &[("未办结 open", ORANGE, &backlog)],
    ));
    page.push_str(&chart(
        "预警、超时与升级 <span class=\"en\">Warnings, breaches and escalations per week</span>",
        "周 week",
        &[
            ("预警 warnings", ORANGE, &weekly(0)),
            ("超时 breaches", RED, &weekly(1)),
            ("升级 escalations", PURPLE, &weekly(2)),
        ],
    ));
    page.push_str(&rates(year));
    page.push_str(&chart(
        "定时触发速度 <span class=\"en\">Timer firings per minute of the run's wall time</span>",
        "运行时间（每点5秒） run time, a point every 5 s",
        &[("触发/分 firings/min", GREEN, &firing_rate)],
    ));
    page.push_str("</body></html>\n");
    page
}

/// A line chart of one or more series over the same x (their index).
fn chart(title: &str, x_label: &str, series: &[(&str, &str, &Vec<f64>)]) -> String {
    let n = series
        .iter()
        .map(|(_, _, v)| v.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let top = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0);
    let x = |i: usize| PAD + (WIDTH - 2.0 * PAD) * i as f64 / (n - 1) as f64;
    let y = |v: f64| HEIGHT - PAD + (2.0 * PAD - HEIGHT) * v / top + 10.0;
    let mut svg = format!(
        "<h2>{title}</h2>\n<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"100%\" role=\"img\">\n\
         <line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#a0aec0\"/>\n\
         <text x=\"{PAD}\" y=\"{l}\">0</text><text x=\"{r}\" y=\"{l}\" text-anchor=\"end\">{n}</text>\n\
         <text x=\"{m}\" y=\"{l}\" text-anchor=\"middle\">{x_label}</text>\n\
         <text x=\"4\" y=\"{t}\">{top:.0}</text>\n",
        b = y(0.0),
        r = WIDTH - PAD,
        l = HEIGHT - 8.0,
        m = WIDTH / 2.0,
        t = y(top) + 4.0,
    );
    for (k, (name, color, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>\n\
             <text x=\"{}\" y=\"14\" fill=\"{color}\" style=\"fill:{color}\">■ {name}</text>",
            points.join(" "),
            PAD + 170.0 * k as f64
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// 及时率 of both clocks and 满意率, per community, as bars from 0 to 100 %.
fn rates(year: &Year) -> String {
    let rows = year.communities.len().max(1);
    let row = 22.0;
    let height = 40.0 + row * rows as f64;
    let label = 90.0;
    let span = (WIDTH - label - PAD) / 3.0;
    let mut svg = format!(
        "<h2>及时率与满意率 <span class=\"en\">On time and satisfied, by community</span></h2>\n\
         <svg viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" role=\"img\">\n"
    );
    let heads = [
        ("响应及时率 response", BLUE),
        ("办结及时率 resolution", ORANGE),
        ("满意率 satisfied", GREEN),
    ];
    for (k, (head, color)) in heads.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"14\" style=\"fill:{color}\">{head}</text>",
            label + span * k as f64
        );
    }
    for (i, (name, s)) in year.communities.iter().zip(&year.stats).enumerate() {
        let top = 26.0 + row * i as f64;
        let _ = writeln!(
            svg,
            "<text x=\"0\" y=\"{}\">{}</text>",
            top + 12.0,
            escape(name)
        );
        let values = [
            on_time(s, "response"),
            on_time(s, "resolution"),
            workflow_core::figures::satisfaction_rate(s.satisfied, s.rated),
        ];
        for (k, (v, (_, color))) in values.iter().zip(&heads).enumerate() {
            let x = label + span * k as f64;
            let w = (span - 50.0) * v.unwrap_or(0.0);
            let text = v.map_or("—".to_owned(), |v| format!("{:.1}%", v * 100.0));
            let _ = writeln!(
                svg,
                "<rect x=\"{x}\" y=\"{top}\" width=\"{w:.1}\" height=\"14\" fill=\"{color}\"/>\
                 <text x=\"{:.1}\" y=\"{}\">{text}</text>",
                x + w + 4.0,
                top + 12.0
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
