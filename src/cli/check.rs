//! `linli check`: validate the workflows (a directory's or the built-in ones) and summarise what it declares.

use std::process::ExitCode;

use linli::workflows::Origin;

pub fn run(origin: &Origin) -> ExitCode {
    match origin.load() {
        Ok(catalog) => {
            for wf in catalog.workflows.values() {
                let actions: std::collections::BTreeSet<_> =
                    wf.transitions.iter().map(|t| t.action.as_str()).collect();
                let clocks: Vec<_> = wf.clocks.iter().map(|c| c.name.as_str()).collect();
                let timers: Vec<_> = wf
                    .timers
                    .iter()
                    .map(|t| {
                        format!(
                            "{} after {} in {}",
                            t.action,
                            t.after,
                            wf.state(t.state).name
                        )
                    })
                    .collect();
                let categories: Vec<_> = catalog
                    .categories
                    .values()
                    .filter(|c| c.workflow == wf.id)
                    .map(|c| c.code.as_str())
                    .collect();
                println!("{} {} ({})", wf.key(), wf.name.zh_cn, wf.source_name);
                println!("  states:     {}", wf.states.len());
                println!("  actions:    {} ({})", actions.len(), join(actions));
                println!("  SLA clocks: {} ({})", clocks.len(), clocks.join(", "));
                println!("  timers:     {} ({})", timers.len(), timers.join("; "));
                println!(
                    "  categories: {} ({})",
                    categories.len(),
                    categories.join(", ")
                );
            }
            let calendars: Vec<_> = catalog.calendars.keys().map(String::as_str).collect();
            println!("calendars: {}", calendars.join(", "));
            println!(
                "ok: {} workflows, {} categories",
                catalog.workflows.len(),
                catalog.categories.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("{} error(s)", errors.len());
            ExitCode::FAILURE
        }
    }
}

fn join<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}
