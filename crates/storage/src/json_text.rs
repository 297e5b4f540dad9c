//! A value kept as JSON text: PostgreSQL's `text` (since migration 0015), SQLite's `TEXT`.
//!
//! The tickets' and events' bodies are written on every transition and read whole, never
//! searched inside on a request's path. As `jsonb` each was parsed into PostgreSQL's binary
//! tree on the way in (12% of the machine's CPU under `linli bench engine`), as `json` still
//! checked (5–11% of the server's CPU a lifecycle): serde wrote them from Linli's own
//! types, so neither ever found anything wrong. As `text` the server only stores them.
//! Binding `sqlx::types::Json` would not do: it binds `jsonb`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::types::Json;
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

// Built-in types' oids are the same on every PostgreSQL server (pg_type.dat).
const TEXT_OID: Oid = Oid(25);
const TEXT_ARRAY_OID: Oid = Oid(1009);

/// `T` serialized with serde, kept as JSON text.
pub(crate) struct JsonText<T>(pub T);

impl<T> Type<Postgres> for JsonText<T> {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(TEXT_OID)
    }

    /// Read from `text`, and from `json` (the text too), as a body was before migration 0015.
    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty) || <Json<()> as Type<Postgres>>::compatible(ty)
    }
}

impl<T> PgHasArrayType for JsonText<T> {
    fn array_type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(TEXT_ARRAY_OID)
    }
}

impl<T: Serialize> Encode<'_, Postgres> for JsonText<T> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // The binary form of `text` is its bytes.
        serde_json::to_writer(&mut **buf, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T: DeserializeOwned> Decode<'_, Postgres> for JsonText<T> {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        Ok(JsonText(serde_json::from_str(value.as_str()?)?))
    }
}

impl<T> Type<Sqlite> for JsonText<T> {
    fn type_info() -> SqliteTypeInfo {
        <Json<T> as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <Json<T> as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q, T: Serialize> Encode<'q, Sqlite> for JsonText<T> {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <Json<&T> as Encode<'q, Sqlite>>::encode_by_ref(&Json(&self.0), buf)
    }
}

impl<'r, T: DeserializeOwned> Decode<'r, Sqlite> for JsonText<T> {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<'r, Sqlite>>::decode(value)?;
        Ok(JsonText(serde_json::from_str(text)?))
    }
}
