//! A value bound as JSON text: PostgreSQL's `json` type (the text, checked and kept as sent)
//! rather than the `jsonb` that `sqlx::types::Json` binds; SQLite's `TEXT` as before.
//!
//! The tickets' and events' bodies are written on every transition and read whole, never
//! searched inside on the hot path: a `jsonb` parameter is parsed into PostgreSQL's binary
//! tree on the way in (12% of the machine's CPU under `linli bench engine`), a `json` one is
//! only checked. Binding `Json` to a `json` column would not help: the server would take the
//! parameter as `jsonb` and convert it through text.

use serde::Serialize;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo};
use sqlx::types::Json;
use sqlx::{Encode, Postgres, Sqlite, Type};

// Built-in types' oids are the same on every PostgreSQL server (pg_type.dat).
const JSON_OID: Oid = Oid(114);
const JSON_ARRAY_OID: Oid = Oid(199);

/// `T` serialized with serde, bound as JSON text.
pub(crate) struct JsonText<T>(pub T);

impl<T> Type<Postgres> for JsonText<T> {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON_OID)
    }
}

impl<T> PgHasArrayType for JsonText<T> {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSON_ARRAY_OID)
    }
}

impl<T: Serialize> Encode<'_, Postgres> for JsonText<T> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // The binary form of `json` is its text.
        serde_json::to_writer(&mut **buf, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T> Type<Sqlite> for JsonText<T> {
    fn type_info() -> SqliteTypeInfo {
        <Json<T> as Type<Sqlite>>::type_info()
    }
}

impl<'q, T: Serialize> Encode<'q, Sqlite> for JsonText<T> {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <Json<&T> as Encode<'q, Sqlite>>::encode_by_ref(&Json(&self.0), buf)
    }
}
