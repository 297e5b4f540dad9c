//! Test support: real stores (a fresh SQLite file, a fresh PostgreSQL database), a small
//! directory, and decisions made by the real core on the shipped workflows.

#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use jiff::Timestamp;
use storage::{NewPerson, Options, SqlStore};
use uuid::Uuid;
use workflow_core::*;

pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(shipped_catalog);
    &CATALOG
}

/// The shipped workflows, loaded afresh.
pub fn shipped_catalog() -> Catalog {
    storage::workflow_files::load_dir(std::path::Path::new(WORKFLOWS)).unwrap()
}

const WORKFLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows");

/// The newest community-service version's file.
const NEWEST: &str = "community-service-v5.toml";

fn sources(change: Option<&str>) -> Vec<Source> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows");
    [
        "catalog.toml",
        "community-service.toml",
        "community-service-v2.toml",
        "community-service-v3.toml",
        "community-service-v4.toml",
        NEWEST,
        "micro-wish.toml",
        "dispute-mediation.toml",
    ]
    .iter()
    .map(|f| {
        let mut text = std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
        if *f == NEWEST
            && let Some(extra) = change
        {
            text.push_str(extra);
        }
        Source {
            name: (*f).into(),
            text,
        }
    })
    .collect()
}

/// The shipped workflows before community-service v3: without its file and the later ones,
/// and without the categories' follow-up calls, which only v3 and later make.
pub fn catalog_before_v3() -> Catalog {
    let sources: Vec<Source> = sources(None)
        .into_iter()
        .filter(|s| {
            !s.name.starts_with("community-service-v") || s.name == "community-service-v2.toml"
        })
        .map(|mut s| {
            s.text = s
                .text
                .split_inclusive('\n')
                .filter(|l| !l.starts_with("follow_up = true"))
                .collect();
            s
        })
        .collect();
    load(&sources).unwrap()
}

/// The shipped workflows with `extra` appended to the newest community-service file (a
/// transition or timer a test needs that no shipped workflow has).
pub fn catalog_with(extra: &str) -> Catalog {
    load(&sources(Some(extra))).unwrap()
}

/// The newest community-service workflow with different content under the same id and
/// version.
pub fn changed_workflow() -> Arc<Workflow> {
    let c = load(&sources(Some("\n# a changed comment\n"))).unwrap();
    c.latest("community-service").unwrap().clone()
}

/// Monday 9 March 2026, 09:00 in Shanghai: inside office hours.
pub fn now() -> Timestamp {
    "2026-03-09T01:00:00Z".parse().unwrap()
}

pub async fn connect(url: &str) -> SqlStore {
    storage::connect(&Options::new(url)).await.unwrap()
}

/// Runs one statement as it is on a store's database, behind the store's back (setting up
/// what a test needs, or undoing what it checks).
pub async fn execute_sql(s: &SqlStore, sql: &str) {
    match (s.pg_pool(), s.sqlite_pool()) {
        (Some(pg), _) => sqlx::raw_sql(sql).execute(pg).await.map(|_| ()),
        (None, Some(lite)) => sqlx::raw_sql(sql).execute(lite).await.map(|_| ()),
        (None, None) => unreachable!("a store has one backend"),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Every event, timer and ledger entry belongs to a stored ticket: on PostgreSQL no foreign
/// key says so since migration 0012, the writer does; `backends!` checks it after each test.
pub async fn assert_no_orphans(s: &SqlStore) {
    for table in ["events", "timers", "ledger"] {
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE NOT EXISTS \
             (SELECT 1 FROM tickets WHERE tickets.id = {table}.ticket_id)"
        );
        let orphans: i64 = match (s.pg_pool(), s.sqlite_pool()) {
            (Some(pg), _) => sqlx::query_scalar(&sql).fetch_one(pg).await,
            (None, Some(lite)) => sqlx::query_scalar(&sql).fetch_one(lite).await,
            (None, None) => unreachable!("a store has one backend"),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(orphans, 0, "{table} rows without their ticket");
    }
}

/// The first page (50) of what a scope sees, unfiltered.
pub async fn first_page(s: &SqlStore, scope: &workflow_core::store::Scope) -> Vec<Ticket> {
    use workflow_core::store::{Page, Store, TicketFilter};
    let page = Page {
        after: None,
        limit: 50,
    };
    s.list(scope, &TicketFilter::default(), page).await.unwrap()
}

pub async fn sqlite_store() -> SqlStore {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-test-{}.db", Uuid::now_v7().simple()));
    connect(&format!("sqlite://{}", path.display())).await
}

/// A new, empty PostgreSQL database for one test, or `None` (said loudly) without one.
pub async fn postgres_database() -> Option<String> {
    let Ok(base) = std::env::var("LINLI_TEST_DATABASE_URL") else {
        eprintln!(
            "SKIPPED (PostgreSQL): LINLI_TEST_DATABASE_URL is not set; only SQLite was tested"
        );
        return None;
    };
    let name = format!("linli_t_{}", Uuid::now_v7().simple());
    let url = storage::create_database(&base, &name)
        .await
        .unwrap_or_else(|e| {
            panic!("LINLI_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {e}")
        });
    Some(url)
}

/// A store on a new PostgreSQL database whose request tables are hash-partitioned by
/// community (`partition_by_community.sql`): the shape a database sharded by community has.
pub async fn partitioned_store(url: &str) -> SqlStore {
    let migrated = connect(url).await;
    execute_sql(&migrated, include_str!("partition_by_community.sql")).await;
    migrated
        .pg_pool()
        .expect("a PostgreSQL store")
        .close()
        .await;
    connect(url).await
}

/// Runs each named test function on every backend: SQLite, PostgreSQL, and PostgreSQL with
/// the request tables partitioned by community ([`partitioned_store`]).
#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = $crate::support::sqlite_store().await;
                    super::$name(s.clone()).await;
                    $crate::support::assert_no_orphans(&s).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = $crate::support::postgres_database().await else { return };
                    let s = $crate::support::connect(&url).await;
                    super::$name(s.clone()).await;
                    $crate::support::assert_no_orphans(&s).await;
                }
            )*
        }
        mod postgres_partitioned {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = $crate::support::postgres_database().await else { return };
                    let s = $crate::support::partitioned_store(&url).await;
                    super::$name(s.clone()).await;
                    $crate::support::assert_no_orphans(&s).await;
                }
            )*
        }
    };
}

/// People and places for ticket tests that do not need the directory.
pub struct World {
    pub wf: Arc<Workflow>,
    pub resident: Actor,
    pub secretary: Actor,
    pub member: Actor,
    pub community: Uuid,
    pub branch: Uuid,
    pub building: Option<Uuid>,
}

impl World {
    pub fn new() -> World {
        World {
            wf: catalog().latest("community-service").unwrap().clone(),
            resident: Actor::new(Uuid::now_v7(), [Role::Resident]),
            secretary: Actor::new(Uuid::now_v7(), [Role::Secretary]),
            member: Actor::new(Uuid::now_v7(), [Role::Member]),
            community: Uuid::now_v7(),
            branch: Uuid::now_v7(),
            building: None,
        }
    }

    /// A world whose people and places are those of a stored directory.
    pub fn located(d: &Directory) -> World {
        World {
            resident: Actor::new(d.resident, [Role::Resident]),
            secretary: Actor::new(d.secretary, [Role::Secretary]),
            member: Actor::new(d.member, [Role::Member]),
            community: d.community,
            branch: d.branch,
            building: Some(d.building),
            ..World::new()
        }
    }

    pub fn submit(&self, at: Timestamp) -> Decision {
        self.submit_with("需要帮忙换灯泡", at)
    }

    pub fn submit_with(&self, text: &str, at: Timestamp) -> Decision {
        self.submit_as(&self.resident, text, at)
    }

    /// The resident's request, entered by `who`: themselves, or a proxy (代办).
    pub fn submit_as(&self, who: &Actor, text: &str, at: Timestamp) -> Decision {
        let sub = Submission {
            id: Uuid::now_v7(),
            category: "repair".into(),
            urgency: Urgency::Normal,
            description: text.into(),
            channel: "console".into(),
            requester: self.resident.id,
            community_id: self.community,
            branch_id: self.branch,
            building_id: self.building,
            hotline: None,
        };
        decide_submission(&self.wf, who, &sub, at).unwrap()
    }

    pub fn act(&self, t: &Ticket, who: &Actor, action: &str, fields: Fields) -> Decision {
        let act = Act {
            action: action.into(),
            expected_version: t.version,
            fields,
        };
        decide(&self.wf, t.clone(), who, &act, now()).unwrap()
    }

    pub fn to_member(&self) -> Fields {
        Fields {
            assignee: Some(Assignee::Person(self.member.id)),
            ..Fields::default()
        }
    }
}

/// A small stored directory: a street with two communities, a branch in each, a building,
/// a team.
pub struct Directory {
    pub street: Uuid,
    pub community: Uuid,
    pub other_community: Uuid,
    pub branch: Uuid,
    pub other_branch: Uuid,
    pub building: Uuid,
    pub resident: Uuid,
    pub secretary: Uuid,
    pub member: Uuid,
    pub team_member: Uuid,
    pub team: Uuid,
    pub member_token: String,
}

impl Directory {
    pub async fn create(s: &SqlStore) -> Directory {
        let street = s
            .create_org_unit("street", "下摄司街道", None)
            .await
            .unwrap();
        let community = s
            .create_org_unit("community", "运河社区", Some(street))
            .await
            .unwrap();
        let other_community = s
            .create_org_unit("community", "荷花塘社区", Some(street))
            .await
            .unwrap();
        let grid = s
            .create_org_unit("grid", "第一网格", Some(community))
            .await
            .unwrap();
        let compound = s
            .create_org_unit("compound", "运河小区", Some(grid))
            .await
            .unwrap();
        let building = s
            .create_org_unit("building", "3栋", Some(compound))
            .await
            .unwrap();
        let other_compound = s
            .create_org_unit("compound", "荷花小区", Some(other_community))
            .await
            .unwrap();
        let branch = s
            .create_branch(community, "运河小区党支部", &[compound])
            .await
            .unwrap();
        let other_branch = s
            .create_branch(other_community, "荷花小区党支部", &[other_compound])
            .await
            .unwrap();
        let person = |name: &str, role: Role| NewPerson {
            name: name.into(),
            phone: Some("13812341234".into()),
            roles: vec![role],
            community_id: Some(community),
            branch_id: Some(branch),
            home_building_id: Some(building),
            ..NewPerson::default()
        };
        let resident = s
            .create_person(&person("王奶奶", Role::Resident))
            .await
            .unwrap();
        let secretary = s
            .create_person(&person("李书记", Role::Secretary))
            .await
            .unwrap();
        let member = s
            .create_person(&person("张师傅", Role::Member))
            .await
            .unwrap();
        let team_member = s
            .create_person(&person("赵阿姨", Role::Member))
            .await
            .unwrap();
        let team = s
            .create_team(
                community,
                "红马甲党员志愿服务队",
                Some(team_member),
                &[team_member],
            )
            .await
            .unwrap();
        let member_token = s.issue_token(team_member).await.unwrap();
        Directory {
            street,
            community,
            other_community,
            branch,
            other_branch,
            building,
            resident,
            secretary,
            member,
            team_member,
            team,
            member_token,
        }
    }
}
