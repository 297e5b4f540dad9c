//! Every list query is served by an index on PostgreSQL: with 100,000 tickets loaded, no
//! plan scans the tickets table sequentially, and the rare filters read their own indexes.

use crate::support::*;
use uuid::Uuid;
use workflow_core::store::*;

/// `n` tickets spread over 50 communities and 200 branches, 1,000 requesters; a quarter of
/// them closed, a tenth breached.
async fn load_tickets(pool: &sqlx::PgPool, n: i64) {
    sqlx::query(
        "INSERT INTO tickets (id, community_id, branch_id, building_id, workflow_id, workflow_version, category, \
         urgency, state, requester_id, assignee_person, assignee_team, version, terminal, breached, created_at_us, \
         updated_at_us, body) \
         SELECT gen_random_uuid(), c.id, b.id, NULL, 'community-service', 1, \
                (ARRAY['repair','elderly_care','sanitation','legal'])[1 + i % 4], 'normal', \
                (ARRAY['submitted','triaged','dispatched','closed'])[1 + i % 4], r.id, \
                CASE WHEN i % 3 = 0 THEN p.id END, NULL, 3, i % 4 = 3, i % 10 = 0, \
                1700000000000000 + i::bigint * 1000000, 1700000000000000 + i::bigint * 1000000, '{}'::jsonb \
         FROM generate_series(1, $1::int) AS i \
         CROSS JOIN LATERAL (SELECT md5('c' || (i % 50))::uuid AS id) c \
         CROSS JOIN LATERAL (SELECT md5('b' || (i % 200))::uuid AS id) b \
         CROSS JOIN LATERAL (SELECT md5('r' || (i % 1000))::uuid AS id) r \
         CROSS JOIN LATERAL (SELECT md5('p' || (i % 300))::uuid AS id) p",
    )
    .bind(n)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
}

/// As a database that has run a while: dead rows vacuumed, the statistics fresh.
async fn settle(pool: &sqlx::PgPool) {
    sqlx::query("VACUUM ANALYZE").execute(pool).await.unwrap();
}

/// A PostgreSQL store with the test directory and 100,000 tickets ([`load_tickets`]), or
/// `None` (said loudly) without PostgreSQL.
async fn with_tickets() -> Option<(storage::SqlStore, Directory)> {
    let s = connect(&postgres_database().await?).await;
    let dir = Directory::create(&s).await;
    load_tickets(s.pg_pool().unwrap(), 100_000).await;
    Some((s, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_queries_use_indexes_at_one_hundred_thousand_tickets() {
    let Some((s, dir)) = with_tickets().await else {
        return;
    };
    let pool = s.pg_pool().unwrap();

    let someone: Uuid = sqlx::query_scalar("SELECT requester_id FROM tickets LIMIT 1")
        .fetch_one(pool)
        .await
        .unwrap();
    let a_branch: Uuid = sqlx::query_scalar("SELECT branch_id FROM tickets LIMIT 1")
        .fetch_one(pool)
        .await
        .unwrap();
    let a_community: Uuid = sqlx::query_scalar("SELECT community_id FROM tickets LIMIT 1")
        .fetch_one(pool)
        .await
        .unwrap();
    let after: Uuid = sqlx::query_scalar("SELECT id FROM tickets ORDER BY id LIMIT 1 OFFSET 50000")
        .fetch_one(pool)
        .await
        .unwrap();
    let scopes = [
        Scope::Requester(someone),
        Scope::Assignee {
            person: someone,
            teams: vec![],
            community: Some(a_community),
        },
        Scope::Branch(a_branch),
        Scope::Community(a_community),
        Scope::Street(dir.street),
        Scope::Everything,
    ];
    let filters = [
        TicketFilter::default(),
        TicketFilter {
            state: Some("triaged".into()),
            ..TicketFilter::default()
        },
        TicketFilter {
            breached: Some(true),
            open: Some(true),
            ..TicketFilter::default()
        },
        TicketFilter {
            category: Some("repair".into()),
            ..TicketFilter::default()
        },
    ];
    let mut checked = 0;
    for scope in &scopes {
        for filter in &filters {
            for page in [
                Page {
                    after: None,
                    limit: 50,
                },
                Page {
                    after: Some(after),
                    limit: 50,
                },
            ] {
                let plan = s.explain_list(scope, filter, page).await.unwrap();
                assert!(
                    !plan.contains("Seq Scan on tickets"),
                    "{scope:?} {filter:?}:\n{plan}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 48);
}

/// A volunteer's list reads a page of what is theirs, neither every ticket newest first nor
/// everything they ever held: with 100,000 tickets, a member who holds three, shares one and
/// has a team pool of one sees exactly those, and a volunteer who held a third of them sees
/// their newest fifty, each in a plan whose every step reads about a page of rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volunteers_list_reads_only_their_tickets() {
    let Some((s, dir)) = with_tickets().await else {
        return;
    };
    let pool = s.pg_pool().unwrap();
    let member = dir.team_member;
    let oldest_first: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tickets ORDER BY id LIMIT 5")
        .fetch_all(pool)
        .await
        .unwrap();
    // The oldest tickets: a plan walking newest first would reach them last.
    sqlx::query("UPDATE tickets SET assignee_person = $1 WHERE id = ANY($2)")
        .bind(member)
        .bind(&oldest_first[..3])
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE tickets SET assignee_person = NULL, assignee_team = $1 WHERE id = $2")
        .bind(dir.team)
        .bind(oldest_first[3])
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO co_handlers (ticket_id, person_id) VALUES ($1, $2)")
        .bind(oldest_first[4])
        .bind(member)
        .execute(pool)
        .await
        .unwrap();
    settle(pool).await;
    let scope = Scope::Assignee {
        person: member,
        teams: vec![dir.team],
        community: Some(dir.community),
    };
    let mut theirs: Vec<Uuid> = first_page(&s, &scope).await.iter().map(|t| t.id).collect();
    theirs.sort();
    assert_eq!(theirs, oldest_first);

    for filter in [
        TicketFilter::default(),
        TicketFilter {
            state: Some("triaged".into()),
            ..TicketFilter::default()
        },
    ] {
        assert_no_step_reads_more_than(&s, &scope, &filter, 50).await;
    }

    // A volunteer of years, holding a third of all tickets: the first page reads a page's
    // worth of them, not all of theirs.
    let veteran = Uuid::now_v7();
    sqlx::query("UPDATE tickets SET assignee_person = $1 WHERE assignee_person IS NOT NULL")
        .bind(veteran)
        .execute(pool)
        .await
        .unwrap();
    settle(pool).await;
    let scope = Scope::Assignee {
        person: veteran,
        teams: vec![],
        community: Some(dir.community),
    };
    assert_eq!(first_page(&s, &scope).await.len(), 50);
    assert_no_step_reads_more_than(&s, &scope, &TicketFilter::default(), 2 * 50).await;
}

/// A street's list reads a page of each of its communities, not every ticket of a shared
/// server newest first: with 100,000 tickets of other streets, none of this street's, then
/// three, then (half of all moved into one of its communities) its newest fifty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streets_list_reads_only_its_communities() {
    let Some((s, dir)) = with_tickets().await else {
        return;
    };
    let pool = s.pg_pool().unwrap();
    let street = Scope::Street(dir.street);
    let all = TicketFilter::default();
    assert!(first_page(&s, &street).await.is_empty());
    assert_no_step_reads_more_than(&s, &street, &all, 50).await;

    let oldest: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tickets ORDER BY id LIMIT 3")
        .fetch_all(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE tickets SET community_id = $1 WHERE id = ANY($2)")
        .bind(dir.community)
        .bind(&oldest)
        .execute(pool)
        .await
        .unwrap();
    settle(pool).await;
    let mut theirs: Vec<Uuid> = first_page(&s, &street).await.iter().map(|t| t.id).collect();
    theirs.sort();
    assert_eq!(theirs, oldest);
    assert_no_step_reads_more_than(&s, &street, &all, 50).await;

    sqlx::query("UPDATE tickets SET community_id = $1 WHERE random() < 0.5")
        .bind(dir.community)
        .execute(pool)
        .await
        .unwrap();
    settle(pool).await;
    assert_eq!(first_page(&s, &street).await.len(), 50);
    assert_no_step_reads_more_than(&s, &street, &all, 2 * 50).await;
}

/// Asserts that no step of the plan of `scope`'s first page of 50 reads more than `most` rows.
async fn assert_no_step_reads_more_than(
    s: &storage::SqlStore,
    scope: &Scope,
    filter: &TicketFilter,
    most: u64,
) {
    let page = Page {
        after: None,
        limit: 50,
    };
    let plan = s.explain_list(scope, filter, page).await.unwrap();
    let rows = most_rows_of_a_step(&plan);
    assert!(
        rows <= most,
        "a step of {rows} rows, {scope:?} {filter:?}:\n{plan}"
    );
}

/// The most rows any one step of the plan produced or filtered away (over all its loops):
/// what a step reading far more than a page of tickets shows.
fn most_rows_of_a_step(plan: &str) -> u64 {
    let number = |after: &str| -> u64 {
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap()
    };
    plan.lines()
        .map(|line| {
            if let Some((_, rest)) = line.split_once("actual rows=") {
                let loops = rest.split_once("loops=").map_or(1, |(_, l)| number(l));
                number(rest) * loops
            } else if let Some((_, removed)) = line.split_once("Rows Removed by Filter: ") {
                number(removed)
            } else {
                0
            }
        })
        .max()
        .unwrap_or_else(|| panic!("no rows in the plan\n{plan}"))
}

/// The lists that filter on a rare yes/no read only the rows that have it: the partial
/// indexes of migration 0008.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_and_breached_lists_read_their_partial_indexes() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let pool = s.pg_pool().unwrap();
    load_tickets(pool, 100_000).await;
    // Most of them finished, as in a community that has run for years.
    sqlx::query("UPDATE tickets SET terminal = TRUE, breached = FALSE WHERE random() < 0.98")
        .execute(pool)
        .await
        .unwrap();
    settle(pool).await;
    let (branch, community): (Uuid, Uuid) =
        sqlx::query_as("SELECT branch_id, community_id FROM tickets LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_partial_indexes_read(&s, branch, community).await;
}

/// And on SQLite.
#[tokio::test]
async fn sqlite_reads_the_partial_indexes_too() {
    let s = sqlite_store().await;
    let (branch, community) = (Uuid::now_v7(), Uuid::now_v7());
    assert_partial_indexes_read(&s, branch, community).await;
}

/// Open lists of the branch and the community, and breached ones, each read their own index.
async fn assert_partial_indexes_read(s: &storage::SqlStore, branch: Uuid, community: Uuid) {
    let open = TicketFilter {
        open: Some(true),
        ..TicketFilter::default()
    };
    let breached = TicketFilter {
        breached: Some(true),
        ..TicketFilter::default()
    };
    let page = Page {
        after: None,
        limit: 50,
    };
    for (scope, filter, index) in [
        (Scope::Branch(branch), &open, "tickets_branch_open"),
        (Scope::Community(community), &open, "tickets_community_open"),
        (
            Scope::Community(community),
            &breached,
            "tickets_community_breached",
        ),
    ] {
        let plan = s.explain_list(&scope, filter, page).await.unwrap();
        assert!(plan.contains(index), "{scope:?} {filter:?}:\n{plan}");
    }
}

/// The batch writer's statements reach every row through a primary key, in the generic plan
/// each writer connection keeps, whatever a table holds: a few thousand pending timers and
/// idempotency records (a small table is where the planner's guess of ten rows for an
/// `UNNEST` made a hash join over a sequential scan look cheaper), among 100,000 tickets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_statements_read_no_whole_table() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let pool = s.pg_pool().unwrap();
    load_tickets(pool, 100_000).await;
    sqlx::query(
        "INSERT INTO timers (ticket_id, key, community_id, due_at_us, epoch) \
         SELECT id, 'expiry', community_id, created_at_us + 1800000000, 1 FROM tickets LIMIT 2000",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO idempotency (caller_id, key, request_hash, ticket_id, response, created_at_us) \
         SELECT requester_id, id::text, 'h', id, '{}'::jsonb, created_at_us \
         FROM tickets LIMIT 2000",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
    assert_batch_plans_read_by_key(&s).await;
}

/// And when the plan is made while the tables are small, as on a node that just started: the
/// plan a connection keeps must not be a sequential scan that the tables then outgrow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_statements_planned_on_small_tables_read_by_key_too() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let pool = s.pg_pool().unwrap();
    load_tickets(pool, 200).await;
    sqlx::query(
        "INSERT INTO timers (ticket_id, key, community_id, due_at_us, epoch) \
         SELECT id, 'expiry', community_id, created_at_us + 1800000000, 1 FROM tickets",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
    assert_batch_plans_read_by_key(&s).await;
}

async fn assert_batch_plans_read_by_key(s: &storage::SqlStore) {
    let plans = s.explain_batch().await.unwrap().unwrap();
    assert_eq!(plans.len(), 4);
    for plan in &plans {
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
    let write = &plans[3];
    assert!(write.contains("Delete on timers"), "{write}");
    assert!(write.contains("timers_pkey"), "{write}");
}

/// Dispatch ranking reads a community's volunteer records through the index of the events
/// that go on record (migration 0014), not the community's whole log: with 200,000 events, a
/// tenth of them on record, on PostgreSQL; and on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteer_records_read_only_the_events_on_record() {
    let since = jiff::Timestamp::UNIX_EPOCH;
    if let Some(url) = postgres_database().await {
        let s = connect(&url).await;
        let pool = s.pg_pool().unwrap();
        load_tickets(pool, 20_000).await;
        sqlx::query(
            "INSERT INTO events (ticket_id, seq, community_id, at_us, actor_id, actor_role, kind, body, on_record) \
             SELECT id, seq, community_id, created_at_us + seq, NULL, 'member', 'note', '{}', seq = 10 \
             FROM tickets CROSS JOIN generate_series(1, 10) AS seq",
        )
        .execute(pool)
        .await
        .unwrap();
        sqlx::query("ANALYZE events").execute(pool).await.unwrap();
        let community: Uuid = sqlx::query_scalar("SELECT community_id FROM tickets LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
        let plan = s.explain_volunteer_records(community, since).await.unwrap();
        assert!(plan.contains("events_on_record"), "{plan}");
    }
    let s = sqlite_store().await;
    let plan = s
        .explain_volunteer_records(Uuid::now_v7(), since)
        .await
        .unwrap();
    assert!(plan.contains("events_on_record"), "{plan}");
}

/// And on SQLite: the volunteer's sets, each from its index, drive the lookup of their
/// tickets by key; no walk of the tickets table. (SQLite served the OR this replaced from
/// the same indexes, one by one; the union must not lose that.)
#[tokio::test]
async fn sqlite_reads_a_volunteers_tickets_by_their_indexes() {
    let s = sqlite_store().await;
    let scope = Scope::Assignee {
        person: Uuid::now_v7(),
        teams: vec![],
        community: Some(Uuid::now_v7()),
    };
    let page = Page {
        after: None,
        limit: 50,
    };
    let plan = s
        .explain_list(&scope, &TicketFilter::default(), page)
        .await
        .unwrap();
    assert!(
        !plan.lines().any(|l| l.starts_with("SCAN tickets")),
        "{plan}"
    );
    for index in [
        "tickets_requester",
        "tickets_assignee_person",
        "tickets_wall",
    ] {
        assert!(plan.contains(index), "{index}:\n{plan}");
    }
}
