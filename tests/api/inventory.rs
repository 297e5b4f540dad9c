//! API9 (inventory): the OpenAPI document is checked in (`docs/openapi.json`) and must equal
//! what the server serves, so every change to the API shows in a review. After a deliberate
//! change: `LINLI_BLESS=1 cargo test --test api inventory` writes the new one.

use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_is_the_checked_in_one() {
    let app = TestApp::spawn(&crate::support::sqlite_url().await).await;
    let served: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let served = serde_json::to_string_pretty(&served).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    if std::env::var_os("LINLI_BLESS").is_some() {
        std::fs::write(&path, &served).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == served,
        "the API changed: review it and run `LINLI_BLESS=1 cargo test --test api inventory` \
         to check in docs/openapi.json"
    );
}
