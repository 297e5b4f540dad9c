//! The loader is fed arbitrary and mutated workflow files: it returns errors with a file
//! location, and never panics.

use proptest::prelude::*;
use workflow_core::{Source, load};

fn shipped_text() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../workflows/community-service.toml"
    ))
    .unwrap()
}

fn check(text: String) -> Result<(), TestCaseError> {
    let catalog = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../workflows/catalog.toml"
    ))
    .unwrap();
    let sources = [
        Source {
            name: "catalog.toml".into(),
            text: catalog,
        },
        Source {
            name: "fuzz.toml".into(),
            text,
        },
    ];
    let result = std::panic::catch_unwind(|| load(&sources));
    prop_assert!(result.is_ok(), "the loader panicked");
    if let Ok(Err(errors)) = result {
        prop_assert!(!errors.is_empty());
        for e in errors {
            prop_assert!(e.line >= 1 && e.col >= 1, "{e}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(text)?;
    }

    #[test]
    fn toml_shaped_noise_never_panics(lines in proptest::collection::vec(
        prop_oneof![
            "\\[states\\.[a-z_]{1,8}\\]",
            "\\[\\[transitions\\]\\]",
            "\\[sla\\.[a-z]{1,6}\\]",
            "[a-z_]{1,10} = \"[a-z0-9_ ]{0,10}\"",
            "[a-z_]{1,10} = \\[\"[a-z_]{1,8}\"\\]",
            "[a-z_]{1,10} = [0-9]{1,12}",
            "(from|to|action|initial|after|in|calendar|escalation) = \"[a-z0-9_]{0,8}\"",
        ],
        0..40,
    )) {
        check(lines.join("\n"))?;
    }

    #[test]
    fn mutations_of_a_shipped_workflow_never_panic(cut in 0usize..6000, len in 0usize..200, insert in "\\PC{0,40}") {
        let text = shipped_text();
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut end = (cut + len).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mutated = format!("{}{}{}", &text[..cut], insert, &text[end..]);
        check(mutated)?;
    }
}
