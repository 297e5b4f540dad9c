//! The migrations are embedded at build time (`sqlx::migrate!`): a new or changed file under
//! `migrations/` must rebuild this crate, which cargo cannot know by itself.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
