//! The demo community, from the articles the project comes from: 荷花塘社区 and its 和事佬志愿
//! 服务队 (安庆), 运河社区 and its 红马甲党员志愿服务队 (湘潭). Both are put under one demo street
//! so a street office has something to supervise. Names of individuals and phone numbers are
//! invented. Seeding is idempotent: a second run finds the people and issues fresh tokens.

use uuid::Uuid;
use workflow_core::Role;
use workflow_core::store::StoreError;

use crate::{NewPerson, SqlStore};

/// A demo user and the token just issued for them.
#[derive(Clone, Debug)]
pub struct DemoUser {
    pub key: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub id: Uuid,
    pub token: String,
}

#[derive(Clone, Debug)]
pub struct Demo {
    pub street: Uuid,
    pub hehuatang: Uuid,
    pub yunhe: Uuid,
    pub hehuatang_branch: Uuid,
    pub yunhe_branch: Uuid,
    pub hehuatang_building: Uuid,
    pub yunhe_building: Uuid,
    pub hehuatang_team: Uuid,
    pub yunhe_team: Uuid,
    pub users: Vec<DemoUser>,
}

impl Demo {
    pub fn user(&self, key: &str) -> &DemoUser {
        self.users
            .iter()
            .find(|u| u.key == key)
            .unwrap_or_else(|| panic!("no demo user {key}"))
    }
}

struct Person {
    key: &'static str,
    name: &'static str,
    phone: &'static str,
    roles: &'static [Role],
    skills: &'static [&'static str],
    /// 0: 荷花塘社区, 1: 运河社区, 2: the street office.
    place: u8,
}

const PEOPLE: &[Person] = &[
    Person {
        key: "admin",
        name: "系统管理员",
        phone: "13800000000",
        roles: &[Role::Admin],
        skills: &[],
        place: 2,
    },
    Person {
        key: "street",
        name: "街道督办员",
        phone: "13800000009",
        roles: &[Role::Street],
        skills: &[],
        place: 2,
    },
    // The street office's integration with the city's 12345 platform (docs/HOTLINE.md): its
    // token brings the platform's work orders in.
    Person {
        key: "hotline",
        name: "12345热线对接",
        phone: "12345",
        roles: &[Role::Street],
        skills: &[],
        place: 2,
    },
    Person {
        key: "community",
        name: "陈美",
        phone: "13800000001",
        roles: &[Role::Community],
        skills: &[],
        place: 0,
    },
    Person {
        key: "secretary",
        name: "黄支书",
        phone: "13800000002",
        roles: &[Role::Secretary, Role::Member],
        skills: &["mediation"],
        place: 0,
    },
    Person {
        key: "member",
        name: "王师傅",
        phone: "13800000003",
        roles: &[Role::Member],
        skills: &["repair", "mediation"],
        place: 0,
    },
    Person {
        key: "doctor",
        name: "刘医生",
        phone: "13800000004",
        roles: &[Role::Member],
        skills: &["medical", "elderly_care"],
        place: 0,
    },
    Person {
        key: "lawyer",
        name: "周律师",
        phone: "13800000005",
        roles: &[Role::Member],
        skills: &["legal", "mediation"],
        place: 0,
    },
    Person {
        key: "resident",
        name: "王奶奶",
        phone: "13912345678",
        roles: &[Role::Resident],
        skills: &[],
        place: 0,
    },
    Person {
        key: "supervisor",
        name: "居民代表老李",
        phone: "13800000010",
        roles: &[Role::Supervisor, Role::Resident],
        skills: &[],
        place: 0,
    },
    Person {
        key: "yunhe_community",
        name: "孙主任",
        phone: "13800000011",
        roles: &[Role::Community],
        skills: &[],
        place: 1,
    },
    Person {
        key: "yunhe_secretary",
        name: "周书记",
        phone: "13800000006",
        roles: &[Role::Secretary, Role::Member],
        skills: &[],
        place: 1,
    },
    Person {
        key: "yunhe_member",
        name: "李阿姨",
        phone: "13800000007",
        roles: &[Role::Member],
        skills: &["elderly_care", "sanitation"],
        place: 1,
    },
    Person {
        key: "yunhe_repair",
        name: "赵师傅",
        phone: "13800000008",
        roles: &[Role::Member],
        skills: &["repair"],
        place: 1,
    },
    Person {
        key: "yunhe_resident",
        name: "张大爷",
        phone: "13987654321",
        roles: &[Role::Resident],
        skills: &[],
        place: 1,
    },
];

/// The posts (岗位) each demo community offers members who report in (双报到), as the seed
/// articles name them.
const POSTS: [&str; 5] = ["楼栋长", "和事佬调解员", "助老", "法律咨询", "环境卫生"];

/// Seeds the demo community once, and (re)issues a token for each demo user.
pub async fn seed(store: &SqlStore) -> Result<Demo, StoreError> {
    let street = match store.org_unit_named("street", "演示街道").await? {
        Some(id) => id,
        None => create(store).await?,
    };
    let find = |kind: &'static str, name: &'static str| async move {
        store
            .org_unit_named(kind, name)
            .await?
            .ok_or_else(|| StoreError::Other(format!("demo {kind} {name} is missing")))
    };
    let hehuatang = find("community", "荷花塘社区").await?;
    let yunhe = find("community", "运河社区").await?;
    // What later releases added to the demo, seeded into one made before them too: the posts
    // members report in to (双报到), and 运河社区's time bank with Shanghai Changning's caps
    // (2 hours a day, 600 in all).
    for community in [hehuatang, yunhe] {
        if store.posts_of(community).await?.is_empty() {
            for post in POSTS {
                store.create_post(community, post).await?;
            }
        }
    }
    store
        .open_time_bank(
            yunhe,
            workflow_core::time_bank::Policy {
                daily_cap_minutes: Some(2 * 60),
                account_cap_minutes: Some(600 * 60),
                expire_after_days: None,
            },
        )
        .await?;
    for (community, in_charge, phone) in [
        (hehuatang, "刘书记", "0571-8765 4321"),
        (yunhe, "孙主任", "0571-8765 1234"),
    ] {
        store
            .set_community_details(community, Some(in_charge.into()), Some(phone.into()))
            .await?;
    }
    let mut users = Vec::new();
    for p in PEOPLE {
        let community = community_of(p.place, hehuatang, yunhe);
        let id = match store.person_named(community, p.name).await? {
            Some(id) => id,
            // Someone a later release added to the demo (the supervisor): seeded now.
            None => {
                let place = match p.place {
                    0 => Some((
                        branch_of(store, hehuatang).await?,
                        find("building", "荷花塘小区1栋").await?,
                    )),
                    1 => Some((
                        branch_of(store, yunhe).await?,
                        find("building", "运河小区3栋").await?,
                    )),
                    _ => None,
                };
                add_person(store, p, community, street, place).await?
            }
        };
        users.push(DemoUser {
            key: p.key,
            name: p.name,
            role: p.roles[0],
            id,
            token: store.issue_token(id).await?,
        });
    }
    let ids = |sql_kind: &'static str, name: &'static str| find(sql_kind, name);
    Ok(Demo {
        street,
        hehuatang,
        yunhe,
        hehuatang_branch: branch_of(store, hehuatang).await?,
        yunhe_branch: branch_of(store, yunhe).await?,
        hehuatang_building: ids("building", "荷花塘小区1栋").await?,
        yunhe_building: ids("building", "运河小区3栋").await?,
        hehuatang_team: team_named(store, "和事佬志愿服务队").await?,
        yunhe_team: team_named(store, "红马甲党员志愿服务队").await?,
        users,
    })
}

fn community_of(place: u8, hehuatang: Uuid, yunhe: Uuid) -> Option<Uuid> {
    match place {
        0 => Some(hehuatang),
        1 => Some(yunhe),
        _ => None,
    }
}

async fn branch_of(store: &SqlStore, community: Uuid) -> Result<Uuid, StoreError> {
    store
        .branches_of(community)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Other("demo branch is missing".into()))
}

async fn team_named(store: &SqlStore, name: &str) -> Result<Uuid, StoreError> {
    store
        .team_named(name)
        .await?
        .ok_or_else(|| StoreError::Other(format!("demo team {name} is missing")))
}

/// A demo person; `place`: their branch and home building (none for street staff).
async fn add_person(
    store: &SqlStore,
    p: &Person,
    community: Option<Uuid>,
    street: Uuid,
    place: Option<(Uuid, Uuid)>,
) -> Result<Uuid, StoreError> {
    store
        .create_person(&NewPerson {
            name: p.name.into(),
            phone: Some(p.phone.into()),
            roles: p.roles.to_vec(),
            community_id: community,
            street_id: (p.place == 2).then_some(street),
            branch_id: place.map(|(b, _)| b),
            home_building_id: place.map(|(_, h)| h),
            skills: p.skills.iter().map(|s| (*s).to_owned()).collect(),
            max_open: Some(5),
            partner_unit_id: None,
        })
        .await
}

async fn create(store: &SqlStore) -> Result<Uuid, StoreError> {
    let street = store.create_org_unit("street", "演示街道", None).await?;
    let hehuatang = store
        .create_org_unit("community", "荷花塘社区", Some(street))
        .await?;
    let yunhe = store
        .create_org_unit("community", "运河社区", Some(street))
        .await?;
    let h_grid = store
        .create_org_unit("grid", "荷花塘第一网格", Some(hehuatang))
        .await?;
    let h_compound = store
        .create_org_unit("compound", "荷花塘小区", Some(h_grid))
        .await?;
    let h1 = store
        .create_org_unit("building", "荷花塘小区1栋", Some(h_compound))
        .await?;
    store
        .create_org_unit("building", "荷花塘小区2栋", Some(h_compound))
        .await?;
    let y_grid = store
        .create_org_unit("grid", "运河第一网格", Some(yunhe))
        .await?;
    let y_compound = store
        .create_org_unit("compound", "运河小区", Some(y_grid))
        .await?;
    store
        .create_org_unit("building", "运河小区1栋", Some(y_compound))
        .await?;
    let y3 = store
        .create_org_unit("building", "运河小区3栋", Some(y_compound))
        .await?;
    let h_branch = store
        .create_branch(hehuatang, "荷花塘小区党支部", &[h_compound])
        .await?;
    let y_branch = store
        .create_branch(yunhe, "运河小区党支部", &[y_compound])
        .await?;
    let mut ids = Vec::new();
    for p in PEOPLE {
        let place = match p.place {
            0 => Some((h_branch, h1)),
            1 => Some((y_branch, y3)),
            _ => None,
        };
        let community = community_of(p.place, hehuatang, yunhe);
        ids.push((p.key, add_person(store, p, community, street, place).await?));
    }
    let id = |key: &str| ids.iter().find(|(k, _)| *k == key).map(|(_, id)| *id);
    let members = |keys: &[&str]| keys.iter().filter_map(|k| id(k)).collect::<Vec<_>>();
    store
        .create_team(
            hehuatang,
            "和事佬志愿服务队",
            id("member"),
            &members(&["member", "doctor", "lawyer", "secretary"]),
        )
        .await?;
    store
        .create_team(
            yunhe,
            "红马甲党员志愿服务队",
            id("yunhe_member"),
            &members(&["yunhe_member", "yunhe_repair"]),
        )
        .await?;
    Ok(street)
}
